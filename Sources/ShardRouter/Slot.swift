/// One of the 16384 hash slots the keyspace is divided into. Shards own ranges of slots.
public struct Slot: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Number of slots in the keyspace (the Redis Cluster value, so cluster clients agree).
    public static let count = 16384
    /// The lowest slot, 0.
    public static let first = Slot(uncheckedRawValue: 0)
    /// The highest slot, 16383.
    public static let last = Slot(uncheckedRawValue: count - 1)

    /// The slot number, in `0..<Slot.count`.
    public let rawValue: Int

    /// A slot from its number, or nil when the number is outside `0..<Slot.count`.
    public init?(rawValue: Int) {
        guard (0..<Slot.count).contains(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// The slot of a key: `CRC16-XMODEM(hashed part) mod 16384`, where the hashed part follows
    /// the Redis Cluster hash tag rule (see ``HashTag``).
    public init<Key: Collection>(forKey key: Key) where Key.Element == UInt8 {
        let checksum = CRC16.xmodem(HashTag.hashedPart(of: key))
        self.rawValue = Int(checksum) % Slot.count
    }

    /// The slot of a key held in an array: the same rule, compiled for the bytes' type here so
    /// the router's per-request call runs no generic code.
    public init(forKey key: [UInt8]) {
        let checksum = key.withUnsafeBufferPointer { CRC16.xmodem(HashTag.hashedPart(of: $0)) }
        self.rawValue = Int(checksum) % Slot.count
    }

    /// The slot of a key given as a string, hashing its UTF-8 bytes.
    public init(forKey key: String) {
        self.init(forKey: Array(key.utf8))
    }

    private init(uncheckedRawValue: Int) {
        self.rawValue = uncheckedRawValue
    }

    public static func < (lhs: Slot, rhs: Slot) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { String(rawValue) }
}
