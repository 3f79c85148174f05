/// A key of the store: arbitrary bytes, ordered byte-wise (as `memcmp`, shorter prefix first),
/// which is the order SCAN walks.
struct StoreKey: Hashable, Comparable, Sendable {
    var bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The bytes in one call: `[UInt8]`'s own hashing feeds the hasher one byte at a time, which
    /// was a large part of the cost of finding a key in the store.
    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    static func < (lhs: StoreKey, rhs: StoreKey) -> Bool {
        lhs.bytes.withUnsafeBufferPointer { a in
            rhs.bytes.withUnsafeBufferPointer { b in
                let n = min(a.count, b.count)
                var i = 0
                while i < n {
                    if a[i] != b[i] { return a[i] < b[i] }
                    i += 1
                }
                return a.count < b.count
            }
        }
    }
}

/// When a live key expires: ordered by time, then key, so expired keys are purged in the same
/// order on every replica.
struct ExpiryDeadline: Hashable, Comparable, Sendable {
    var millis: UInt64
    var key: StoreKey

    static func < (lhs: ExpiryDeadline, rhs: ExpiryDeadline) -> Bool {
        lhs.millis != rhs.millis ? lhs.millis < rhs.millis : lhs.key < rhs.key
    }
}
