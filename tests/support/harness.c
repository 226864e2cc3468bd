/* harness.c - the environment contract between tests/run.sh and the tests. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const char *need(const char *var) {
    const char *v = getenv(var);
    if (!v || !*v)
        cr_assert_fail("%s is not set: run the tests through tests/run.sh (it starts redis-server "
                 "and the embedded broker), or `ctest` from a build dir with them exported",
                 var);
    return v;
}

int fg_test_redis_port(void) { return atoi(need("FG_TEST_REDIS_PORT")); }
const char *fg_test_bootstrap(void) { return need("FG_TEST_BOOTSTRAP"); }
const char *fg_test_bin(void) { return need("FG_BIN"); }
const char *fg_test_source_dir(void) { return need("FG_SOURCE_DIR"); }

const char *fg_test_unique(const char *base) {
    static char slots[16][128];
    static unsigned n;
    static unsigned salt;
    if (!salt) salt = (unsigned)time(NULL) ^ ((unsigned)getpid() << 8);
    char *s = slots[n % 16];
    snprintf(s, sizeof(slots[0]), "%s-%d-%u-%x", base, (int)getpid(), n, salt);
    n++;
    return s;
}
