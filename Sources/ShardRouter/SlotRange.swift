/// A closed, non-empty range of slots, written `first-last` (e.g. `0-1023`) as in
/// `CLUSTER SLOTS` and `CLUSTER NODES`.
public struct SlotRange: Hashable, Sendable, CustomStringConvertible {
    /// The first slot in the range.
    public let first: Slot
    /// The last slot in the range (inclusive).
    public let last: Slot

    /// A range from `first` through `last`, or nil when `first > last`.
    public init?(first: Slot, last: Slot) {
        guard first <= last else { return nil }
        self.first = first
        self.last = last
    }

    /// A range from slot numbers, or nil when either is not a slot or `first > last`.
    public init?(_ first: Int, _ last: Int) {
        guard let first = Slot(rawValue: first), let last = Slot(rawValue: last) else { return nil }
        self.init(first: first, last: last)
    }

    /// The range holding every slot.
    public static let all = SlotRange(first: .first, last: .last)!

    /// Number of slots in the range (at least 1).
    public var count: Int { last.rawValue - first.rawValue + 1 }

    /// Whether `slot` lies in the range.
    public func contains(_ slot: Slot) -> Bool { first <= slot && slot <= last }

    /// Whether the two ranges share at least one slot.
    public func overlaps(_ other: SlotRange) -> Bool { first <= other.last && other.first <= last }

    public var description: String { first == last ? "\(first)" : "\(first)-\(last)" }
}
