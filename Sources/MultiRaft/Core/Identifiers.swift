/// The numbers Raft keeps apart: a replica's id, a term and a log position are all 64-bit, and
/// each is its own type, so one can never be stored where another belongs (a replica id in
/// an index compiles no longer). Each prints as its plain number and is written as one
/// `UInt64` on the wire and on disk.
public protocol RaftNumber: RawRepresentable, Hashable, Comparable, Sendable, ExpressibleByIntegerLiteral,
                            CustomStringConvertible where RawValue == UInt64, IntegerLiteralType == UInt64 {
    init(rawValue: UInt64)
}

extension RaftNumber {
    public init(_ value: some BinaryInteger) { self.init(rawValue: UInt64(value)) }
    public init(integerLiteral value: UInt64) { self.init(rawValue: value) }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}

/// A replica's id inside one Raft group. Never reused: a replica that leaves a group keeps its
/// id retired forever (see `Configuration.retired`). 0 means "none".
public struct ReplicaID: RaftNumber {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// A Raft term. Monotonically increasing; 0 before the first election.
public struct Term: RaftNumber {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static func + (a: Term, n: UInt64) -> Term { Term(rawValue: a.rawValue + n) }
    public static func += (a: inout Term, n: UInt64) { a.rawValue += n }
}

/// A position in the replicated log. The first entry has index 1; 0 means "nothing".
/// Indexes move by counts (`index + 1`, `index - n`), and two indexes are apart by a count
/// (`last - first`).
public struct LogIndex: RaftNumber, Strideable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let max = LogIndex(rawValue: .max)
    public static func < (a: LogIndex, b: LogIndex) -> Bool { a.rawValue < b.rawValue }
    public static func + (a: LogIndex, n: UInt64) -> LogIndex { LogIndex(rawValue: a.rawValue + n) }
    public static func - (a: LogIndex, n: UInt64) -> LogIndex { LogIndex(rawValue: a.rawValue - n) }
    public static func - (a: LogIndex, b: LogIndex) -> UInt64 { a.rawValue - b.rawValue }
    public static func += (a: inout LogIndex, n: UInt64) { a.rawValue += n }
    public static func -= (a: inout LogIndex, n: UInt64) { a.rawValue -= n }
    public func distance(to other: LogIndex) -> Int64 { Int64(bitPattern: other.rawValue &- rawValue) }
    public func advanced(by n: Int64) -> LogIndex { LogIndex(rawValue: UInt64(bitPattern: Int64(bitPattern: rawValue) &+ n)) }
}

extension UInt64 {
    /// The raw number of a replica id, term or index (for the wire, disk and arithmetic).
    public init<N: RaftNumber>(_ n: N) { self = n.rawValue }
}

extension Int {
    public init<N: RaftNumber>(_ n: N) { self = Int(n.rawValue) }
}

/// Identifies one Raft group (a shard or the meta group) on a node.
public typealias GroupID = UInt64
