-- 006: keyword search over the catalogue that works for Chinese text.
--
-- MariaDB's FULLTEXT parser splits on spaces and punctuation, so it finds no
-- word inside "华为手机" (CJK text has no spaces), and its n-gram parser is a
-- MySQL-only plugin. The catalogue of a flash-sale shop is small (thousands of
-- rows), so a substring match is simple and correct: search_text is title and
-- subtitle, lower-cased, joined by a newline (keywords cannot contain control
-- characters, so a match never spans the two fields). The list query is
-- `search_text LIKE CONCAT('%', ?, '%') ESCAPE '!'` with % _ ! in the keyword
-- escaped; the index on (del_state, status, search_text) lets MariaDB scan the
-- narrow index of live products instead of the table with its TEXT column.
ALTER TABLE flashsale_product.product
  ADD COLUMN IF NOT EXISTS search_text VARCHAR(384)
    AS (LOWER(CONCAT(title, '\n', sub_title))) STORED,
  ADD KEY IF NOT EXISTS idx_search (del_state, status, search_text);
