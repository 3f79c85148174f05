import MultiRaft

/// Seeded random mutation of valid inputs: bit flips, byte edits, truncation, insertion,
/// deletion, duplication, splices with other seeds, edits of binary length fields and of ASCII
/// numbers, and fully random inputs. Deterministic for a given seed, so any input can be
/// regenerated from (seed, input number).
struct Mutator {
    var rng: SplitMix64
    let seeds: [[UInt8]]
    let maxLength: Int

    init(seed: UInt64, seeds: [[UInt8]], maxLength: Int = 1 << 16) {
        rng = SplitMix64(seed: seed)
        self.seeds = seeds
        self.maxLength = maxLength
    }

    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }

    static let interestingU32: [UInt32] = [0, 1, 2, 7, 8, 9, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x1_0000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF]
    static let interestingNumbers = ["0", "-1", "1", "-0", "+1", "2147483647", "2147483648", "4294967296", "9223372036854775807",
                                     "9223372036854775808", "-9223372036854775808", "99999999999999999999999", "65536", "65537", "", "1e3", " 1"]

    /// The next input: a seed with 1 to 4 mutations, or (rarely) random bytes.
    mutating func next() -> [UInt8] {
        if below(50) == 0 { return randomBytes(below(256)) }
        var bytes = seeds[below(seeds.count)]
        for _ in 0...below(4) { mutate(&bytes) }
        if bytes.count > maxLength { bytes.removeLast(bytes.count - maxLength) }
        return bytes
    }

    mutating func randomBytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }

    mutating func mutate(_ b: inout [UInt8]) {
        switch below(12) {
        case 0 where !b.isEmpty:  // bit flip
            let i = below(b.count)
            b[i] ^= 1 << UInt8(below(8))
        case 1 where !b.isEmpty:  // random byte
            b[below(b.count)] = UInt8(truncatingIfNeeded: rng.next())
        case 2 where !b.isEmpty:  // truncate
            b.removeLast(1 + below(b.count))
        case 3:  // insert random bytes
            b.insert(contentsOf: randomBytes(1 + below(16)), at: below(b.count + 1))
        case 4 where b.count > 1:  // delete a range
            let start = below(b.count), n = 1 + below(min(32, b.count - start))
            b.removeSubrange(start..<(start + n))
        case 5 where !b.isEmpty:  // duplicate a range
            let start = below(b.count), n = 1 + below(min(64, b.count - start))
            b.insert(contentsOf: Array(b[start..<(start + n)]), at: below(b.count + 1))
        case 6:  // splice: a prefix of this with a suffix of another seed
            let other = seeds[below(seeds.count)]
            let cut = below(b.count + 1), from = below(other.count + 1)
            b = Array(b[..<cut]) + Array(other[from...])
        case 7 where b.count >= 4:  // a 32-bit little-endian field gets an interesting value
            let at = below(b.count - 3)
            var v = Self.interestingU32[below(Self.interestingU32.count)]
            if below(3) == 0 { v = UInt32(truncatingIfNeeded: Int(readU32(b, at)) + below(5) - 2) }
            for k in 0..<4 { b[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
        case 8 where b.count >= 8:  // a 64-bit field gets all ones / zero / a small value
            let at = below(b.count - 7)
            let v: UInt64 = [0, 1, .max, 1 << 40, UInt64(below(1000))][below(5)]
            for k in 0..<8 { b[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
        case 9:  // an ASCII number is replaced
            replaceNumber(&b)
        case 10 where !b.isEmpty:  // interesting byte: CR, LF, protocol markers, 0, 0xFF
            let specials: [UInt8] = [0, 0xFF, 0x0D, 0x0A, 0x2A, 0x24, 0x2B, 0x2D, 0x3A, 0x3D, 0x23, 0x5B, 0x5D, 0x20, 0x7F, 0x80]
            b[below(b.count)] = specials[below(specials.count)]
        default:  // repeat a byte many times
            if !b.isEmpty { b.insert(contentsOf: [UInt8](repeating: b[below(b.count)], count: 1 + below(300)), at: below(b.count + 1)) }
        }
    }

    private mutating func replaceNumber(_ b: inout [UInt8]) {
        let digits = b.indices.filter { b[$0] >= 0x30 && b[$0] <= 0x39 }
        guard !digits.isEmpty else { return }
        var start = digits[below(digits.count)], end = start
        while start > 0, b[start - 1] >= 0x30, b[start - 1] <= 0x39 { start -= 1 }
        while end + 1 < b.count, b[end + 1] >= 0x30, b[end + 1] <= 0x39 { end += 1 }
        b.replaceSubrange(start...end, with: Array(Self.interestingNumbers[below(Self.interestingNumbers.count)].utf8))
    }

    func readU32(_ b: [UInt8], _ o: Int) -> UInt32 {
        UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
    }
}
