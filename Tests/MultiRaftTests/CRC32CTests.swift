import Testing
@testable import MultiRaft

@Suite struct CRC32CTests {
    @Test func knownValues() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    // Whichever path this CPU takes, it agrees with the table-driven one for every length and
    // alignment, also when a checksum is continued across pieces.
    @Test func hardwareAndTableAgree() {
        var rng = SplitMix64(seed: 9)
        let data = (0..<4_096).map { _ in UInt8.random(in: 0...255, using: &rng) }
        data.withUnsafeBytes { all in
            for start in 0..<9 {
                for length in [0, 1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1_000, 4_000] where start + length <= all.count {
                    let piece = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    #expect(CRC32C.checksum(piece) == CRC32C.software(piece), "start \(start) length \(length)")
                    let half = length / 2
                    let first = UnsafeRawBufferPointer(rebasing: all[start..<(start + half)])
                    let second = UnsafeRawBufferPointer(rebasing: all[(start + half)..<(start + length)])
                    #expect(CRC32C.checksum(second, crc: CRC32C.checksum(first)) == CRC32C.software(piece))
                }
            }
        }
    }
}
