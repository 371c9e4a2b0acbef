/* Test-only stand-in for bcryptprimitives.dll under Wine 8, which lacks ProcessPrng (imported by
 * Rust's standard library since 1.78 for random hash seeds). Built by .ci/cross with mingw and
 * placed beside the Windows test binaries; never part of blasfix itself. ProcessPrng fills the
 * buffer from RtlGenRandom (advapi32!SystemFunction036) and, like the real one, always succeeds. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
