/* admin.c - flashsale-admin: operator commands that link common/ (grant-admin, ...). */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "cache.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "seckill-lib.h"

/* One operator command. */
struct admin_cmd {
	const char *name;
	const char *usage;
	int nargs;
	int (*run)(struct db *db, char **argv);
};

/* The stack's Redis (sessions), opened by main for the commands that need it. */
static struct cache *admin_cache;

/* The id of the user with this mobile: >0, 0 unknown (said on stderr), -1 database error. */
static long long admin_user_id(struct db *db, const char *mobile)
{
	json_t *row;
	int rc = db_query_row(
	    db, &row, "SELECT id FROM flashsale_usercenter.user WHERE mobile = ? AND del_state = 0",
	    "s", mobile);
	if (rc) {
		fprintf(stderr, "flashsale-admin: database error: %s\n", db_last_error(db));
		return -1;
	}
	if (!row) {
		fprintf(stderr, "flashsale-admin: no user with mobile %s\n", mobile);
		return 0;
	}
	long long id = json_integer_value(json_object_get(row, "id"));
	json_decref(row);
	return id;
}

/* auth_revoked_fn: a revoked jti stops buying on /seckill/do too (no session lookup there). */
static int admin_revoke_seckill(void *cache, const char *jti, long long exp)
{
	return seckill_revoke_jti(cache, jti, exp);
}

/* Revoke every session of uid (its tokens stop working at once, seckill/do included). 0 or 1. */
static int admin_revoke_sessions_of(long long uid)
{
	if (auth_session_revoke_all_each(admin_cache, uid, admin_revoke_seckill, admin_cache) < 0) {
		fprintf(stderr, "flashsale-admin: Redis unreachable: sessions not revoked\n");
		return 1;
	}
	return 0;
}

/*
 * Set a user's role by mobile and revoke the user's sessions, so no token keeps the
 * old role: the user logs in again and gets tokens with the new one.
 */
static int admin_set_role(struct db *db, const char *mobile, const char *role)
{
	long long uid = admin_user_id(db, mobile);
	if (uid <= 0)
		return 1;
	int rc =
	    db_exec(db,
		    "UPDATE flashsale_usercenter.user SET role = ?, update_time = UNIX_TIMESTAMP() "
		    "WHERE id = ? AND del_state = 0",
		    "si", role, uid);
	if (rc) {
		fprintf(stderr, "flashsale-admin: database error: %s\n", db_last_error(db));
		return 1;
	}
	if (admin_revoke_sessions_of(uid))
		return 1;
	printf("%s is now %s (sessions revoked: log in again for a token with the role)\n", mobile,
	       role);
	return 0;
}

/* revoke-sessions MOBILE: log a user out everywhere. */
static int admin_revoke_sessions(struct db *db, char **argv)
{
	long long uid = admin_user_id(db, argv[0]);
	if (uid <= 0 || admin_revoke_sessions_of(uid))
		return 1;
	printf("every session of %s is revoked\n", argv[0]);
	return 0;
}

/* grant-admin MOBILE */
static int admin_grant(struct db *db, char **argv)
{
	return admin_set_role(db, argv[0], "admin");
}

/* revoke-admin MOBILE */
static int admin_revoke(struct db *db, char **argv)
{
	return admin_set_role(db, argv[0], "user");
}

static const struct admin_cmd admin_cmds[] = {
    {.name = "grant-admin", .usage = "grant-admin MOBILE", .nargs = 1, .run = admin_grant},
    {.name = "revoke-admin", .usage = "revoke-admin MOBILE", .nargs = 1, .run = admin_revoke},
    {.name = "revoke-sessions",
     .usage = "revoke-sessions MOBILE",
     .nargs = 1,
     .run = admin_revoke_sessions},
};

/* Print the command list. */
static int admin_usage(void)
{
	fprintf(stderr, "usage: flashsale-admin [-c CONFIG] COMMAND ARGS\ncommands:\n");
	for (size_t i = 0; i < sizeof admin_cmds / sizeof admin_cmds[0]; i++)
		fprintf(stderr, "  %s\n", admin_cmds[i].usage);
	return 2;
}

int main(int argc, char **argv)
{
	struct fs_config cfg;
	char err[512];
	const char *conf = NULL;
	int i = 1;

	if (argc > 2 && !strcmp(argv[1], "-c")) {
		conf = argv[2];
		i = 3;
	}
	if (i >= argc)
		return admin_usage();
	if (config_load(&cfg, conf, err, sizeof err) < 0) {
		fprintf(stderr, "flashsale-admin: %s\n", err);
		return 1;
	}
	log_open("flashsale-admin", NULL, "warn");
	for (size_t k = 0; k < sizeof admin_cmds / sizeof admin_cmds[0]; k++) {
		const struct admin_cmd *c = &admin_cmds[k];
		if (strcmp(argv[i], c->name))
			continue;
		if (argc - i - 1 != c->nargs)
			return admin_usage();
		struct db *db = db_new(&cfg);
		admin_cache = cache_new(&cfg);
		int rc = c->run(db, argv + i + 1);
		cache_free(admin_cache);
		db_free(db);
		config_free(&cfg);
		return rc;
	}
	config_free(&cfg);
	return admin_usage();
}
