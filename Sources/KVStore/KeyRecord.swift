import MultiRaft

/// One version of a key: the log index that wrote it and the value it wrote (nil for a delete).
struct KeyVersion: Equatable, Sendable {
    var index: LogIndex
    var value: [UInt8]?
}

/// Everything stored under one key: its value and expiry while live, and its recent versions.
/// A record without a value is *retired* (deleted or expired): only its history remains, until
/// it is forgotten in retirement order or the key is written again.
struct KeyRecord: Equatable, Sendable {
    /// The current value; nil when retired.
    var value: [UInt8]?
    /// Unix milliseconds at which the key expires (absent at and after); nil for no expiry.
    var expiresAt: UInt64?
    /// Versions, oldest first, at most `KVSettings.historyDepth`.
    var history: [KeyVersion] = []

    /// Whether the key exists at replicated time `clock`.
    func isLive(at clock: UInt64) -> Bool {
        guard value != nil else { return false }
        if let expiresAt { return expiresAt > clock }
        return true
    }

    /// Gives the key a value written at `index`, recording the version.
    mutating func assign(_ newValue: [UInt8], expiresAt: UInt64?, index: LogIndex, depth: Int) {
        value = newValue
        self.expiresAt = expiresAt
        recordVersion(KeyVersion(index: index, value: newValue), depth: depth)
    }

    mutating func recordVersion(_ version: KeyVersion, depth: Int) {
        guard depth > 0 else { return }
        history.append(version)
        if history.count > depth { history.removeFirst(history.count - depth) }
    }
}
