#ifndef MYSTORE_CCRC32C_H
#define MYSTORE_CCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has the CRC-32C instruction (x86-64 SSE 4.2); when not, callers use the
/// table-driven code.
int mystore_crc32c_hardware_available(void);

/// Continues the raw (not inverted) CRC-32C state `crc` over `count` bytes with the CPU's
/// CRC-32C instruction. Only call it when `mystore_crc32c_hardware_available()` is non-zero.
uint32_t mystore_crc32c_hardware(uint32_t crc, const void *bytes, size_t count);

#endif
