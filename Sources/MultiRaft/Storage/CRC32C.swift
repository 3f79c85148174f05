import CCRC32C

/// CRC-32C (Castagnoli), the checksum of every WAL record, peer frame and snapshot chunk: the
/// CPU's CRC-32C instruction where there is one (x86-64 SSE 4.2), else table-driven, slicing by
/// 8 bytes. Both give the same values (tested).
public enum CRC32C {
    static let hardware = mystore_crc32c_hardware_available() != 0

    /// Eight 256-entry tables, flattened: table k starts at k * 256.
    static let table: [UInt32] = {
        var t = Array(repeating: UInt32(0), count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            t[i] = c
        }
        for k in 1..<8 {
            for i in 0..<256 { t[k * 256 + i] = (t[(k - 1) * 256 + i] >> 8) ^ t[Int(t[(k - 1) * 256 + i] & 0xFF)] }
        }
        return t
    }()

    /// Continues `crc` over `bytes` (start with 0).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, crc: UInt32 = 0) -> UInt32 {
        guard hardware, let base = bytes.baseAddress else { return software(bytes, crc: crc) }
        return ~mystore_crc32c_hardware(~crc, base, bytes.count)
    }

    /// The table-driven computation (also the reference the hardware path is tested against).
    static func software(_ bytes: UnsafeRawBufferPointer, crc: UInt32 = 0) -> UInt32 {
        var c = ~crc
        var i = 0
        let n = bytes.count
        table.withUnsafeBufferPointer { t in
            while n - i >= 8 {
                let x = c ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian
                let hi = bytes.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self).littleEndian
                c = t[7 * 256 + Int(x & 0xFF)] ^ t[6 * 256 + Int((x >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((x >> 16) & 0xFF)] ^ t[4 * 256 + Int(x >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                c = t[Int((c ^ UInt32(bytes[i])) & 0xFF)] ^ (c >> 8)
                i += 1
            }
        }
        return ~c
    }

    public static func checksum(_ bytes: [UInt8], crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, crc: crc) }
    }

    public static func checksum(_ bytes: ArraySlice<UInt8>, crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, crc: crc) }
    }
}
