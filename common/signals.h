/* signals.h - the one signal set-up of the FastCGI programs and the jobs. */
#ifndef FS_SIGNALS_H
#define FS_SIGNALS_H

/*
 * on_term for SIGTERM and SIGINT (NULL leaves them alone: they kill), on_hup for SIGHUP (NULL
 * leaves SIGHUP alone), SIGPIPE ignored. No SA_RESTART, so a blocking accept() or poll() returns
 * EINTR and the loop sees its stop flag.
 */
void signals_install(void (*on_term)(int), void (*on_hup)(int));

#endif
