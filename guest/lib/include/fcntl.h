#include <sys/fcntl.h>
