# wc.t: counts the lines, words and characters of the files named as its arguments
# (a program in tc's toy language, written for vcluster's tests).
i = 1;
total = 0;
while (i <= argc()) {
    fd = open(arg(i));
    if (fd < 0) {
        puts("wc: cannot open "); puts(arg(i)); putc('\n');
        exit(1);
    }
    lines = 0; words = 0; chars = 0; inword = 0;
    while ((c = getc(fd)) >= 0) {
        chars = chars + 1;
        if (c == '\n') lines = lines + 1;
        if (c == ' ' || c == '\n' || c == '\t') inword = 0;
        else if (!inword) { inword = 1; words = words + 1; }
    }
    close(fd);
    puts(arg(i)); putc(':'); putc(' ');
    print(lines); print(words); print(chars);
    total = total + chars;
    i = i + 1;
}
puts("total characters "); print(total);
exit(i - 1);
