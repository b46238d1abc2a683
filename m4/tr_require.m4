# TR_REQUIRE_PKG(VAR, MODULE, DEBIAN-PACKAGE)
# Finds MODULE with pkg-config and sets VAR_CFLAGS/VAR_LIBS, or stops
# configure with one line naming the Debian package that provides it.
AC_DEFUN([TR_REQUIRE_PKG], [
  PKG_CHECK_MODULES([$1], [$2], [],
    [AC_MSG_ERROR([$2 not found: install the Debian package $3 (or set $1_CFLAGS and $1_LIBS)])])
])

# TR_REQUIRE_BEARSSL
# BearSSL ships no pkg-config file in Debian: look for the header and the
# library, honouring BEARSSL_CFLAGS / BEARSSL_LIBS when given.
AC_DEFUN([TR_REQUIRE_BEARSSL], [
  AC_ARG_VAR([BEARSSL_CFLAGS], [C compiler flags for BearSSL])
  AC_ARG_VAR([BEARSSL_LIBS], [linker flags for BearSSL])
  AS_IF([test -z "$BEARSSL_LIBS"], [BEARSSL_LIBS="-lbearssl"])
  tr_save_CPPFLAGS="$CPPFLAGS"; tr_save_LIBS="$LIBS"
  CPPFLAGS="$CPPFLAGS $BEARSSL_CFLAGS"; LIBS="$BEARSSL_LIBS $LIBS"
  AC_CHECK_HEADER([bearssl.h], [],
    [AC_MSG_ERROR([bearssl.h not found: install the Debian package libbearssl-dev (or set BEARSSL_CFLAGS)])])
  AC_MSG_CHECKING([for br_sha256_init in BearSSL])
  AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <bearssl.h>]],
      [[br_sha256_context c; br_sha256_init(&c);]])],
    [AC_MSG_RESULT([yes])],
    [AC_MSG_RESULT([no])
     AC_MSG_ERROR([BearSSL library not found: install the Debian package libbearssl-dev (or set BEARSSL_LIBS)])])
  CPPFLAGS="$tr_save_CPPFLAGS"; LIBS="$tr_save_LIBS"
  AC_SUBST([BEARSSL_CFLAGS])
  AC_SUBST([BEARSSL_LIBS])
])
