# primes.t: the primes below its argument's number of hundreds, by trial division, and
# sums of them (a CPU-bound program in tc's toy language, written for vcluster's tests).
# The limit is read from the file named as the first argument: its digits.
fd = open(arg(1));
limit = 0;
while ((c = getc(fd)) >= '0' && c <= '9') limit = limit * 10 + c - '0';
close(fd);
n = 2; count = 0; sum = 0;
while (n < limit) {
    d = 2; prime = 1;
    while (prime && d * d <= n) {
        if (n % d == 0) prime = 0;
        d = d + 1;
    }
    if (prime) {
        count = count + 1; sum = sum + n;
        if (count % 500 == 0) { puts("prime "); print(n); }
    }
    n = n + 1;
}
puts("primes below "); print(limit);
print(count); print(sum * sum * 1000);
exit(0);
