// null_milter.cpp - a do-nothing libmilter milter: the baseline the benchmark
// compares milter-harden with, and the reference peer the milter driver's
// own tests talk to.
//
// SYNOPSIS
//   null_milter -p unix:/path/sock | inet:PORT@127.0.0.1 [-b BACKLOG] [-P MASK] [-r]
//
// It registers the callbacks milter-harden uses (connect, helo, envfrom,
// envrcpt, close), asks for SMFIP_RCPT_REJ and no header/body/data steps
// (or, with -P, exactly the protocol mask given, e.g. 0x2f4 - the benchmark
// passes what milter-harden negotiated, so both get the same steps) and
// answers every callback SMFIS_CONTINUE at once. With -r it
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
unsigned long g_protocol =
    SMFIP_RCPT_REJ | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY | SMFIP_NODATA | SMFIP_NOUNKNOWN;

sfsistat on_negotiate(SMFICTX*, unsigned long f0, unsigned long f1, unsigned long, unsigned long,
                      unsigned long* pf0, unsigned long* pf1, unsigned long* pf2,
                      unsigned long* pf3) {
  *pf0 = 0;  // no modifications
  *pf1 = f1 & g_protocol;
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
  for (int opt; (opt = getopt(argc, argv, "p:b:P:r")) != -1;) {
    switch (opt) {
      case 'p':
        conn = optarg;
        break;
      case 'b':
        backlog = std::atoi(optarg);
        break;
      case 'P':
        g_protocol = std::strtoul(optarg, nullptr, 0);
        break;
      case 'r':
        g_reject_rcpt = true;
        break;
      default:
        std::fprintf(stderr, "usage: null_milter -p SOCKET [-b BACKLOG] [-P MASK] [-r]\n");
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
  // libmilter clears the SMFIP_NO* flag of every callback that is
  // registered, so a step the mask skips must have no callback.
  if (!(g_protocol & SMFIP_NOCONNECT)) desc.xxfi_connect = on_connect;
  if (!(g_protocol & SMFIP_NOHELO)) desc.xxfi_helo = on_helo;
  if (!(g_protocol & SMFIP_NOMAIL)) desc.xxfi_envfrom = on_envfrom;
  if (!(g_protocol & SMFIP_NORCPT)) desc.xxfi_envrcpt = on_envrcpt;
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
