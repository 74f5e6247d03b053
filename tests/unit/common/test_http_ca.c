/* The CA bundle choice: the environment first, as curl's tool does, then a bundle that exists on this system. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <unistd.h>

#include "http_ca.h"

Test(http_ca, environment_wins_in_curls_order)
{
    setenv("SSL_CERT_FILE", "/tmp/second.pem", 1);
    setenv("CURL_CA_BUNDLE", "/tmp/first.pem", 1);
    cr_assert_str_eq(http_ca_bundle(), "/tmp/first.pem");
    unsetenv("CURL_CA_BUNDLE");
    cr_assert_str_eq(http_ca_bundle(), "/tmp/second.pem");
    unsetenv("SSL_CERT_FILE");
}

Test(http_ca, falls_back_to_a_bundle_that_exists)
{
    unsetenv("SSL_CERT_FILE");
    unsetenv("CURL_CA_BUNDLE");
    const char *b = http_ca_bundle();
    cr_assert_not_null(b, "no CA bundle found on this machine");
    cr_assert_eq(access(b, R_OK), 0, "%s", b);
}
