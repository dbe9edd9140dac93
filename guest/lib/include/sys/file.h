
#include <sys/fcntl.h>
