/* hello: the first program. */
#include <stdio.h>

int main(int argc, char **argv, char **envp)
{
    printf("Hello from the V-System!\n");
    return 0;
}
