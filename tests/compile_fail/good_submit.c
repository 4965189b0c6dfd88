/* Must compile, warning-free: every correct use the bad_*.c files get wrong. */
#include <cfutures.h>

typedef struct point {
    int x, y;
} point;

static double hypot2(double a, double b)
{
    return a * a + b * b;
}
CF_TASK(double, hypot2, double, double);

static void fill(int *out, int n)
{
    *out = n;
}
CF_TASK(void, fill, int *, int);

static const char *greet(const char *who, cf_bytes data, point p)
{
    (void)data;
    (void)p;
    return who;
}
CF_TASK(const char *, greet, const char *, cf_bytes, point);

static int nothing(void)
{
    return 0;
}
CF_TASK(int, nothing);

static long eight(char a, short b, int c, long d, float e, double f, void *g, bool h)
{
    (void)g;
    return a + b + c + d + (long)e + (long)f + h;
}
CF_TASK(long, eight, char, short, int, long, float, double, void *, bool);

int use(cf_executor *ex);
int use(cf_executor *ex)
{
    cf_future *f;
    int n = 0, rc = 0;
    char name[] = "mutable";
    static const unsigned char raw[2] = {1, 2};
    rc |= cf_submit(&f, ex, hypot2, 3.0, 4.0);
    rc |= cf_submit(&f, ex, hypot2, 3, 4.0f); /* arithmetic conversions, as in a call */
    rc |= cf_submit(&f, ex, fill, &n, 7);
    rc |= cf_submit(NULL, ex, greet, "world", (cf_bytes){raw, sizeof raw}, (point){1, 2});
    rc |= cf_submit(&f, ex, greet, name, (cf_bytes){NULL, 0}, (point){0, 0});
    rc |= cf_submit(&f, ex, nothing);
    rc |= cf_submit(&f, ex, eight, 'a', 1, 2, 3L, 4.0f, 5.0, &n, true);

    double r;
    const char *s;
    rc |= cf_future_result(f, &r, 1.0);
    rc |= cf_future_result(f, &s, CF_FOREVER);
    rc |= cf_future_result(f, NULL, 0);
    return rc;
}
