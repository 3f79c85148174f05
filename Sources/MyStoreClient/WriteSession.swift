/// The client's exactly-once session: a random 64-bit client id and a sequence number per
/// write. Each write is sent as `MYSTORE.EXEC <client-id> <sequence> <command> <args...>`
/// (decimal numbers); the server keeps the last applied sequence per client id in the
/// replicated state, so re-sending the same sequence after a timeout or a lost connection
/// applies the write at most once and returns the first outcome.
public struct WriteSession: Hashable, Sendable {
    /// The command that wraps writes.
    public static let execCommand = Array("MYSTORE.EXEC".utf8)

    /// This client's id, fixed for its lifetime.
    public let clientID: UInt64
    /// The sequence the next write gets; starts at 1.
    public private(set) var nextSequence: UInt64 = 1

    public init(clientID: UInt64) {
        self.clientID = clientID
    }

    /// A session with a random, non-zero client id.
    public init() {
        self.init(clientID: UInt64.random(in: 1...UInt64.max))
    }

    /// Wraps `command` as the next write, taking a new sequence. Retries of this write must
    /// re-send the returned command unchanged.
    public mutating func wrap(_ command: [[UInt8]]) -> [[UInt8]] {
        let sequence = nextSequence
        nextSequence += 1
        return [Self.execCommand, Array(String(clientID).utf8), Array(String(sequence).utf8)] + command
    }
}
