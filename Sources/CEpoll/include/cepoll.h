#ifndef CEPOLL_H
#define CEPOLL_H
// Linux epoll for the load generator (Swift's Glibc module does not export sys/epoll.h).
#include <sys/epoll.h>
#endif
