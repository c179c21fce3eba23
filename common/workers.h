/* workers.h - how many workers of this FastCGI program serve its socket right now. */
#ifndef FS_WORKERS_H
#define FS_WORKERS_H

/* Processes running this program's binary on this process's listening socket (fd 0), this
 * one included; -1 if /proc cannot tell. */
int workers_live(void);

#endif
