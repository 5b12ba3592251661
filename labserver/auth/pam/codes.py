"""Linux-PAM return codes, their ``pam_strerror()`` texts and the names pam.conf uses.

The numbers are those of ``<security/_pam_types.h>``; the control-value names are the
ones pam.conf(5) accepts inside ``[value=action ...]``.
"""

from __future__ import annotations

import enum


class Pam(enum.IntEnum):
    SUCCESS = 0
    OPEN_ERR = 1
    SYMBOL_ERR = 2
    SERVICE_ERR = 3
    SYSTEM_ERR = 4
    BUF_ERR = 5
    PERM_DENIED = 6
    AUTH_ERR = 7
    CRED_INSUFFICIENT = 8
    AUTHINFO_UNAVAIL = 9
    USER_UNKNOWN = 10
    MAXTRIES = 11
    NEW_AUTHTOK_REQD = 12
    ACCT_EXPIRED = 13
    SESSION_ERR = 14
    CRED_UNAVAIL = 15
    CRED_EXPIRED = 16
    CRED_ERR = 17
    NO_MODULE_DATA = 18
    CONV_ERR = 19
    AUTHTOK_ERR = 20
    AUTHTOK_RECOVERY_ERR = 21
    AUTHTOK_LOCK_BUSY = 22
    AUTHTOK_DISABLE_AGING = 23
    TRY_AGAIN = 24
    IGNORE = 25
    ABORT = 26
    AUTHTOK_EXPIRED = 27
    MODULE_UNKNOWN = 28
    BAD_ITEM = 29
    CONV_AGAIN = 30
    INCOMPLETE = 31


# libpam's pam_strerror() (libpam/pam_strerror.c), in English.
STRERROR = {
    Pam.SUCCESS: "Success",
    Pam.OPEN_ERR: "Failed to load module",
    Pam.SYMBOL_ERR: "Symbol not found",
    Pam.SERVICE_ERR: "Error in service module",
    Pam.SYSTEM_ERR: "System error",
    Pam.BUF_ERR: "Memory buffer error",
    Pam.PERM_DENIED: "Permission denied",
    Pam.AUTH_ERR: "Authentication failure",
    Pam.CRED_INSUFFICIENT: "Insufficient credentials to access authentication data",
    Pam.AUTHINFO_UNAVAIL: "Authentication service cannot retrieve authentication info",
    Pam.USER_UNKNOWN: "User not known to the underlying authentication module",
    Pam.MAXTRIES: "Have exhausted maximum number of retries for service",
    Pam.NEW_AUTHTOK_REQD: "Authentication token is no longer valid; new one required",
    Pam.ACCT_EXPIRED: "User account has expired",
    Pam.SESSION_ERR: "Cannot make/remove an entry for the specified session",
    Pam.CRED_UNAVAIL: "Authentication service cannot retrieve user credentials",
    Pam.CRED_EXPIRED: "User credentials expired",
    Pam.CRED_ERR: "Failure setting user credentials",
    Pam.NO_MODULE_DATA: "No module specific data is present",
    Pam.CONV_ERR: "Conversation error",
    Pam.AUTHTOK_ERR: "Authentication token manipulation error",
    Pam.AUTHTOK_RECOVERY_ERR: "Authentication information cannot be recovered",
    Pam.AUTHTOK_LOCK_BUSY: "Authentication token lock busy",
    Pam.AUTHTOK_DISABLE_AGING: "Authentication token aging disabled",
    Pam.TRY_AGAIN: "Failed preliminary check by password service",
    Pam.IGNORE: "The return value should be ignored by PAM dispatch",
    Pam.ABORT: "Critical error - immediate abort",
    Pam.AUTHTOK_EXPIRED: "Authentication token expired",
    Pam.MODULE_UNKNOWN: "Module is unknown",
    Pam.BAD_ITEM: "Bad item passed to pam_*_item()",
    Pam.CONV_AGAIN: "Conversation is waiting for event",
    Pam.INCOMPLETE: "Application needs to call libpam again",
}

# pam.conf(5) value names; "authtok_recover_err" is spelt as libpam spells it.
VALUE_NAMES = {name.lower(): code for name, code in Pam.__members__.items()}
VALUE_NAMES["authtok_recover_err"] = VALUE_NAMES.pop("authtok_recovery_err")

# libpam's PAM_MUST_FAIL_CODE: what a stack that decided nothing returns.
MUST_FAIL = Pam.PERM_DENIED


def strerror(code: int) -> str:
    try:
        return STRERROR[Pam(code)]
    except ValueError:
        return "Unknown PAM error"
