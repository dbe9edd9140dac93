/* nbody: the outer planets around the sun, integrated in double precision.
 *
 *   nbody [STEPS [DT]]      default 1000 steps of 0.01 days
 *
 * A symplectic (leapfrog / semi-implicit Euler) integrator over the sun,
 * Jupiter, Saturn, Uranus and Neptune in units of AU, days/365.24 and solar
 * masses (G = 4 pi^2). Prints the system's total energy before and after, and
 * every STEPS/10 steps, with %.9f: a host-side test builds this same file with
 * the host's compiler and compares the lines digit for digit (IEEE double,
 * round to nearest: the guest's soft float must agree with the host's FPU).
 * Written for vcluster; the initial conditions are the planets' published
 * heliocentric positions and velocities (JPL), as every n-body benchmark uses.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define PI 3.141592653589793
#define SOLAR_MASS (4.0 * PI * PI)
#define DAYS_PER_YEAR 365.24
#define N 5

struct body {
    double pos[3];
    double vel[3];
    double mass;
};

static struct body system_bodies[N] = {
    /* sun */
    { { 0.0, 0.0, 0.0 }, { 0.0, 0.0, 0.0 }, SOLAR_MASS },
    /* jupiter */
    { { 4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01 },
      { 1.66007664274403694e-03 * DAYS_PER_YEAR, 7.69901118419740425e-03 * DAYS_PER_YEAR,
        -6.90460016972063023e-05 * DAYS_PER_YEAR },
      9.54791938424326609e-04 * SOLAR_MASS },
    /* saturn */
    { { 8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01 },
      { -2.76742510726862411e-03 * DAYS_PER_YEAR, 4.99852801234917238e-03 * DAYS_PER_YEAR,
        2.30417297573763929e-05 * DAYS_PER_YEAR },
      2.85885980666130812e-04 * SOLAR_MASS },
    /* uranus */
    { { 1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01 },
      { 2.96460137564761618e-03 * DAYS_PER_YEAR, 2.37847173959480950e-03 * DAYS_PER_YEAR,
        -2.96589568540237556e-05 * DAYS_PER_YEAR },
      4.36624404335156298e-05 * SOLAR_MASS },
    /* neptune */
    { { 1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01 },
      { 2.68067772490389322e-03 * DAYS_PER_YEAR, 1.62824170038242295e-03 * DAYS_PER_YEAR,
        -9.51592254519715870e-05 * DAYS_PER_YEAR },
      5.15138902046611451e-05 * SOLAR_MASS },
};

/* Give the sun the momentum that makes the system's total zero. */
static void zero_momentum(struct body *b)
{
    double p[3] = { 0.0, 0.0, 0.0 };
    for (int i = 0; i < N; i++)
        for (int k = 0; k < 3; k++)
            p[k] += b[i].vel[k] * b[i].mass;
    for (int k = 0; k < 3; k++)
        b[0].vel[k] = -p[k] / SOLAR_MASS;
}

static double total_energy(const struct body *b)
{
    double e = 0.0;
    for (int i = 0; i < N; i++) {
        double v2 = 0.0;
        for (int k = 0; k < 3; k++)
            v2 += b[i].vel[k] * b[i].vel[k];
        e += 0.5 * b[i].mass * v2;
        for (int j = i + 1; j < N; j++) {
            double d2 = 0.0;
            for (int k = 0; k < 3; k++) {
                double d = b[i].pos[k] - b[j].pos[k];
                d2 += d * d;
            }
            e -= b[i].mass * b[j].mass / sqrt(d2);
        }
    }
    return e;
}

/* One step: velocities from the pairwise forces, then positions. */
static void step(struct body *b, double dt)
{
    for (int i = 0; i < N; i++) {
        for (int j = i + 1; j < N; j++) {
            double d[3], d2 = 0.0, scale;
            for (int k = 0; k < 3; k++) {
                d[k] = b[i].pos[k] - b[j].pos[k];
                d2 += d[k] * d[k];
            }
            scale = dt / (d2 * sqrt(d2));
            for (int k = 0; k < 3; k++) {
                b[i].vel[k] -= d[k] * b[j].mass * scale;
                b[j].vel[k] += d[k] * b[i].mass * scale;
            }
        }
    }
    for (int i = 0; i < N; i++)
        for (int k = 0; k < 3; k++)
            b[i].pos[k] += dt * b[i].vel[k];
}

int main(int argc, char **argv)
{
    long steps = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
    double dt = argc > 2 ? strtod(argv[2], NULL) : 0.01;
    long report = steps >= 10 ? steps / 10 : 1;

    if (steps < 0 || !(dt > 0.0)) {
        fprintf(stderr, "usage: nbody [STEPS [DT]]\n");
        return 2;
    }
    zero_momentum(system_bodies);
    printf("nbody: %ld steps of %g\n", steps, dt);
    printf("energy %.9f\n", total_energy(system_bodies));
    for (long s = 1; s <= steps; s++) {
        step(system_bodies, dt);
        if (s % report == 0 && s != steps)
            printf("step %ld energy %.9f\n", s, total_energy(system_bodies));
    }
    printf("energy %.9f\n", total_energy(system_bodies));
    printf("jupiter at %.6e %.6e %.6e\n", system_bodies[1].pos[0], system_bodies[1].pos[1],
           system_bodies[1].pos[2]);
    return 0;
}
