/* keys.c: CURVE key pairs from a shared secret, at random, or from files
 * (net.h; the derivation is in doc/net.md).
 *
 * Design notes
 * - From a secret: seed = Argon2id(secret, salt, 3 passes, 16 MiB), with
 *   salt = BLAKE2b-128("cfutures-net v1 salt"); then each side's secret key
 *   is BLAKE2b-256 keyed by the seed of "cfutures-net v1 server" or
 *   "... client", and its public key the Curve25519 base-point product.
 *   Every input is fixed, so every holder of the secret gets the same keys.
 * - Intermediate secrets are wiped before return.
 * - Key files hold Z85 text; a file that others may read is refused, like
 *   ssh does with private keys.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "net_priv.h"

#define SALT_TEXT "cfutures-net v1 salt"
#define OPSLIMIT 3
#define MEMLIMIT ((size_t)16 << 20)

static int init_sodium(void)
{
    return sodium_init() < 0 ? CF__FAIL(-EIO, "net: libsodium failed to initialise") : 0;
}

static void pair_from_secret(const uint8_t seed[32], const char *label, char *pub_z85,
                             char *sec_z85)
{
    uint8_t sec[32], pub[32];
    crypto_generichash(sec, sizeof sec, (const uint8_t *)label, strlen(label), seed, 32);
    crypto_scalarmult_base(pub, sec);
    zmq_z85_encode(sec_z85, sec, 32);
    zmq_z85_encode(pub_z85, pub, 32);
    sodium_memzero(sec, sizeof sec);
}

int cf_net_keys_from_secret(cf_net_keys *keys, const void *secret, size_t len)
{
    if (keys == NULL || len == 0 || secret == NULL)
        return CF__FAIL(CF_EINVAL, "cf_net_keys_from_secret: %s",
                        keys == NULL ? "NULL keys" : "an empty secret");
    int rc = init_sodium();
    if (rc != 0)
        return rc;
    uint8_t salt[crypto_pwhash_SALTBYTES], seed[32];
    crypto_generichash(salt, sizeof salt, (const uint8_t *)SALT_TEXT, strlen(SALT_TEXT), NULL, 0);
    if (crypto_pwhash(seed, sizeof seed, secret, len, salt, OPSLIMIT, MEMLIMIT,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return CF__FAIL(-ENOMEM, "cf_net_keys_from_secret: no memory for Argon2id (16 MiB)");
    memset(keys, 0, sizeof *keys);
    pair_from_secret(seed, "cfutures-net v1 server", keys->server_public, keys->server_secret);
    pair_from_secret(seed, "cfutures-net v1 client", keys->client_public, keys->client_secret);
    sodium_memzero(seed, sizeof seed);
    return 0;
}

int cf_net_keys_generate(cf_net_keys *keys)
{
    if (keys == NULL)
        return CF__FAIL(CF_EINVAL, "cf_net_keys_generate: NULL keys");
    memset(keys, 0, sizeof *keys);
    if (zmq_curve_keypair(keys->server_public, keys->server_secret) != 0 ||
        zmq_curve_keypair(keys->client_public, keys->client_secret) != 0) {
        cf_net_keys_wipe(keys);
        return CF__FAIL(-EIO, "cf_net_keys_generate: %s", zmq_strerror(zmq_errno()));
    }
    return 0;
}

void cf_net_keys_wipe(cf_net_keys *keys)
{
    if (keys != NULL)
        sodium_memzero(keys, sizeof *keys);
}

static bool key_ok(const char *z85)
{
    uint8_t raw[32];
    bool ok = strlen(z85) == 40 && zmq_z85_decode(raw, z85) != NULL;
    sodium_memzero(raw, sizeof raw);
    return ok;
}

int cf_net_keys_save(const cf_net_keys *keys, const char *path, int which)
{
    static const char caller[] = "cf_net_keys_save";
    if (keys == NULL || path == NULL)
        return CF__FAIL(CF_EINVAL, "%s: NULL %s", caller, keys == NULL ? "keys" : "path");
    if (which != CF_NET_KEYS_SERVER && which != CF_NET_KEYS_CLIENT)
        return CF__FAIL(CF_EINVAL, "%s: unknown `which` %d", caller, which);
    const char *secret = which == CF_NET_KEYS_SERVER ? keys->server_secret : keys->client_secret;
    if (!key_ok(keys->server_public) || !key_ok(keys->client_public) || !key_ok(secret))
        return CF__FAIL(CF_EINVAL, "%s: a key this side needs is missing or malformed", caller);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return CF__FAIL(-errno, "%s: %s: %s", caller, path, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        int e = errno;
        close(fd);
        return CF__FAIL(-e, "%s: %s: %s", caller, path, strerror(e));
    }
    fprintf(f, "# cfutures-net keys for the %s side (doc/net.md); keep private\n",
            which == CF_NET_KEYS_SERVER ? "serving" : "connecting");
    fprintf(f, "server-public = %s\n", keys->server_public);
    if (which == CF_NET_KEYS_SERVER)
        fprintf(f, "server-secret = %s\n", keys->server_secret);
    fprintf(f, "client-public = %s\n", keys->client_public);
    if (which == CF_NET_KEYS_CLIENT)
        fprintf(f, "client-secret = %s\n", keys->client_secret);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        int e = errno != 0 ? errno : EIO;
        unlink(path);
        return CF__FAIL(-e, "%s: %s: %s", caller, path, strerror(e));
    }
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* A secret's public key, computed. */
static void public_of(const char *sec_z85, char *pub_z85)
{
    if (pub_z85[0] == '\0' && sec_z85[0] != '\0')
        zmq_curve_public(pub_z85, sec_z85);
}

int cf_net_keys_load(cf_net_keys *keys, const char *path)
{
    static const char caller[] = "cf_net_keys_load";
    if (keys == NULL || path == NULL)
        return CF__FAIL(CF_EINVAL, "%s: NULL %s", caller, keys == NULL ? "keys" : "path");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CF__FAIL(-errno, "%s: %s: %s", caller, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
        int e = errno;
        close(fd);
        if ((st.st_mode & 077) != 0)
            return CF__FAIL(-EPERM, "%s: %s may be read or written by others (mode %03o): "
                                    "chmod 600 it", caller, path, (unsigned)(st.st_mode & 0777));
        return CF__FAIL(-e, "%s: %s: %s", caller, path, strerror(e));
    }
    FILE *f = fdopen(fd, "r");
    if (f == NULL) {
        int e = errno;
        close(fd);
        return CF__FAIL(-e, "%s: %s: %s", caller, path, strerror(e));
    }
    cf_net_keys k;
    memset(&k, 0, sizeof k);
    char line[256];
    int rc = 0, lineno = 0;
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            rc = CF__FAIL(CF_EDECODE, "%s: %s:%d: expected `name = key`", caller, path, lineno);
            break;
        }
        *eq = '\0';
        char *name = trim(s), *val = trim(eq + 1);
        char *dst = strcmp(name, "server-public") == 0   ? k.server_public
                    : strcmp(name, "server-secret") == 0 ? k.server_secret
                    : strcmp(name, "client-public") == 0 ? k.client_public
                    : strcmp(name, "client-secret") == 0 ? k.client_secret
                                                         : NULL;
        if (dst == NULL)
            rc = CF__FAIL(CF_EDECODE, "%s: %s:%d: unknown key name '%s'", caller, path, lineno,
                          name);
        else if (!key_ok(val))
            rc = CF__FAIL(CF_EDECODE, "%s: %s:%d: not a 40-character Z85 key", caller, path,
                          lineno);
        else
            memcpy(dst, val, CF_NET_KEY_LEN);
    }
    sodium_memzero(line, sizeof line);
    fclose(f);
    if (rc == 0) {
        public_of(k.server_secret, k.server_public);
        public_of(k.client_secret, k.client_public);
        *keys = k;
    }
    sodium_memzero(&k, sizeof k);
    return rc;
}
