// docs.js - render doc/openapi.yaml (served as /docs/openapi.yaml) with redoc's standalone bundle.
window.addEventListener('DOMContentLoaded', () => {
	if (typeof Redoc === 'undefined') {
		document.getElementById('docs-missing').hidden = false;
		return;
	}
	Redoc.init('/docs/openapi.yaml', {
		expandResponses: '200',
		jsonSampleExpandLevel: 3,
		sortTagsAlphabetically: false,
		theme: { colors: { primary: { main: '#e4393c' } } },
	}, document.getElementById('redoc'));
});
