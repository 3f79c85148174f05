/// CRC-16/XMODEM (polynomial 0x1021, initial value 0, no reflection, no final XOR).
///
/// This is the checksum Redis Cluster uses to map keys to slots; using the same one lets
/// Redis cluster clients compute MyStore's key layout themselves.
public enum CRC16 {
    /// The CRC-16/XMODEM of `bytes`. `CRC16.xmodem(Array("123456789".utf8)) == 0x31C3`.
    public static func xmodem<Bytes: Sequence>(_ bytes: Bytes) -> UInt16 where Bytes.Element == UInt8 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    /// One entry per possible high byte: the CRC of that byte shifted through the polynomial.
    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 {
            crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }
}
