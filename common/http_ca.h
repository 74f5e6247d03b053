/* Which CA bundle libcurl trusts. lurker is built on Debian but also runs where Debian's compiled-in bundle path
 * does not exist (the Lambda on Amazon Linux 2023: /etc/pki/tls/certs/ca-bundle.crt). As curl's own tool does,
 * CURL_CA_BUNDLE, then SSL_CERT_FILE, win; otherwise the first bundle that exists among curl's default and the usual
 * places of Debian, Amazon Linux/RHEL and Alpine. */
#ifndef LURKER_HTTP_CA_H
#define LURKER_HTTP_CA_H

#include <curl/curl.h>

/* The path chosen (static storage), or NULL to leave curl's default. */
const char *http_ca_bundle(void);
void http_set_ca(CURL *curl);

#endif
