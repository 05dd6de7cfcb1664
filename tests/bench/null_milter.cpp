// null_milter.cpp - a do-nothing libmilter milter: the baseline the benchmark
// compares milter-harden with, and the reference peer the milter driver's
// own tests talk to.
//
// SYNOPSIS
//   null_milter -p unix:/path/sock | inet:PORT@127.0.0.1 [-b BACKLOG] [-r]
//
// It registers the callbacks milter-harden uses (connect, helo, envfrom,
// envrcpt, close), negotiates like it (SMFIP_RCPT_REJ, no header/body/data
// steps) and answers every callback SMFIS_CONTINUE at once. With -r it
// instead rejects every recipient with "550 5.1.1 null milter says no", so
// the driver tests can see a SMFIR_REPLYCODE from real libmilter.
// SIGTERM/SIGINT stop it (libmilter's own signal handling).
#include <libmilter/mfapi.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

bool g_reject_rcpt = false;

sfsistat on_negotiate(SMFICTX*, unsigned long f0, unsigned long f1, unsigned long, unsigned long,
                      unsigned long* pf0, unsigned long* pf1, unsigned long* pf2,
                      unsigned long* pf3) {
  *pf0 = 0;  // no modifications
  const unsigned long want =
      SMFIP_RCPT_REJ | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY | SMFIP_NODATA | SMFIP_NOUNKNOWN;
  *pf1 = f1 & want;
  *pf2 = 0;
  *pf3 = 0;
  (void)f0;
  return SMFIS_CONTINUE;
}

sfsistat on_connect(SMFICTX*, char*, _SOCK_ADDR*) {
  return SMFIS_CONTINUE;
}
sfsistat on_helo(SMFICTX*, char*) {
  return SMFIS_CONTINUE;
}
sfsistat on_envfrom(SMFICTX*, char**) {
  return SMFIS_CONTINUE;
}
sfsistat on_envrcpt(SMFICTX* ctx, char**) {
  if (!g_reject_rcpt) return SMFIS_CONTINUE;
  char rcode[] = "550";
  char xcode[] = "5.1.1";
  char text[] = "null milter says no";
  smfi_setreply(ctx, rcode, xcode, text);
  return SMFIS_REJECT;
}
sfsistat on_close(SMFICTX*) {
  return SMFIS_CONTINUE;
}

}  // namespace

int main(int argc, char** argv) {
  std::string conn;
  int backlog = 1024;
  for (int opt; (opt = getopt(argc, argv, "p:b:r")) != -1;) {
    switch (opt) {
      case 'p':
        conn = optarg;
        break;
      case 'b':
        backlog = std::atoi(optarg);
        break;
      case 'r':
        g_reject_rcpt = true;
        break;
      default:
        std::fprintf(stderr, "usage: null_milter -p SOCKET [-b BACKLOG] [-r]\n");
        return 2;
    }
  }
  if (conn.empty()) {
    std::fprintf(stderr, "null_milter: -p SOCKET is required\n");
    return 2;
  }
  char name[] = "null_milter";
  smfiDesc desc{};
  desc.xxfi_name = name;
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = 0;
  desc.xxfi_connect = on_connect;
  desc.xxfi_helo = on_helo;
  desc.xxfi_envfrom = on_envfrom;
  desc.xxfi_envrcpt = on_envrcpt;
  desc.xxfi_close = on_close;
  desc.xxfi_negotiate = on_negotiate;
  if (smfi_setconn(conn.data()) != MI_SUCCESS || smfi_setbacklog(backlog) != MI_SUCCESS ||
      smfi_register(desc) != MI_SUCCESS) {
    std::fprintf(stderr, "null_milter: cannot set up %s\n", conn.c_str());
    return 1;
  }
  if (smfi_opensocket(true) != MI_SUCCESS) {
    std::fprintf(stderr, "null_milter: cannot open %s\n", conn.c_str());
    return 1;
  }
  std::printf("null_milter: listening on %s\n", conn.c_str());
  std::fflush(stdout);
  return smfi_main() == MI_SUCCESS ? 0 : 1;
}
