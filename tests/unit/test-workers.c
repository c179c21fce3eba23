/* test-workers.c - workers.h: live workers are the processes of this binary on this fd 0 socket. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workers.h"

/* Put a fresh socket (no other process holds it) on fd 0. */
static void fresh_socket_on_stdin(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, 0), 0);
	close(fd);
}

/* Alone on a socket: one worker; two forked copies make three; killed, one again. */
START_TEST(test_counts_processes_on_the_socket)
{
	fresh_socket_on_stdin();
	ck_assert_int_eq(workers_live(), 1);
	pid_t kids[2];
	for (int i = 0; i < 2; i++) {
		kids[i] = fork();
		ck_assert_int_ge(kids[i], 0);
		if (!kids[i]) {
			pause();
			_exit(0);
		}
	}
	ck_assert_int_eq(workers_live(), 3);
	for (int i = 0; i < 2; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	ck_assert_int_eq(workers_live(), 1);
}
END_TEST

/* A process whose fd 0 holds another socket is another domain's: not counted. */
START_TEST(test_other_socket_not_counted)
{
	fresh_socket_on_stdin();
	int ready[2];
	ck_assert_int_eq(pipe(ready), 0);
	pid_t kid = fork();
	ck_assert_int_ge(kid, 0);
	if (!kid) {
		fresh_socket_on_stdin();
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c;
	ck_assert_int_eq(read(ready[0], &c, 1), 1); /* the child holds its own socket now */
	ck_assert_int_eq(workers_live(), 1);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	close(ready[0]);
	close(ready[1]);
}
END_TEST

/* fd 0 not a socket (not under spawn-fcgi): unknown. */
START_TEST(test_not_a_socket)
{
	int fd = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, 0), 0);
	close(fd);
	ck_assert_int_eq(workers_live(), -1);
}
END_TEST

/* The suite. */
static Suite *workers_suite(void)
{
	Suite *s = suite_create("workers");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_counts_processes_on_the_socket);
	tcase_add_test(tc, test_other_socket_not_counted);
	tcase_add_test(tc, test_not_a_socket);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(workers_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
