/// What `mystore restore` leaves in a new node's data directory, under `restore/`, for the
/// node's first start: one snapshot stream per shard (`shard-<id>.snap`, copied verbatim from
/// the backup) and this manifest, which names each shard's slots and applied index:
///
///     mystore-restore v1
///     shards 16
///     shard 0 0-1023 4711
///     ...
///
/// A node starting on an empty data directory that holds it founds its shard groups from
/// these snapshots instead of empty state (the meta group bootstraps as usual), after checking
/// that the backup's shards are exactly the shards its own config and membership give.
public struct RestoreManifest: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public var shard: ShardID
        public var slotRanges: [SlotRange]
        public var appliedIndex: UInt64
        public init(shard: ShardID, slotRanges: [SlotRange], appliedIndex: UInt64) {
            self.shard = shard
            self.slotRanges = slotRanges
            self.appliedIndex = appliedIndex
        }
    }

    public var shards: [Entry]

    public init(shards: [Entry]) { self.shards = shards }

    /// The folder under a data directory, and its files.
    public static let directoryName = "restore"
    public static let fileName = "MANIFEST"
    public static func snapshotName(_ shard: ShardID) -> String { "shard-\(shard.rawValue).snap" }

    public var encoded: String {
        var text = "mystore-restore v1\nshards \(shards.count)\n"
        for e in shards {
            text += "shard \(e.shard.rawValue) \(e.slotRanges.map { "\($0.first.rawValue)-\($0.last.rawValue)" }.joined(separator: ",")) \(e.appliedIndex)\n"
        }
        return text
    }

    /// Parses `encoded`; the error names the line.
    public init(parsing text: String) throws(RestoreManifestError) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.first == "mystore-restore v1" else { throw RestoreManifestError("first line is not \"mystore-restore v1\"") }
        guard lines.count > 1, lines[1].hasPrefix("shards "), let count = Int(lines[1].dropFirst(7)), count > 0, count <= Slot.count else {
            throw RestoreManifestError("line 2: expected \"shards N\"")
        }
        var shards: [Entry] = []
        for (k, line) in lines.dropFirst(2).enumerated() where !line.isEmpty {
            let parts = line.split(separator: " ")
            guard parts.count == 4, parts[0] == "shard", let id = Int(parts[1]), id >= 0, let index = UInt64(parts[3]) else {
                throw RestoreManifestError("line \(k + 3): expected \"shard ID FIRST-LAST[,...] INDEX\"")
            }
            var ranges: [SlotRange] = []
            for r in parts[2].split(separator: ",") {
                let ends = r.split(separator: "-")
                guard ends.count == 2, let a = Int(ends[0]), let b = Int(ends[1]), let range = SlotRange(a, b) else {
                    throw RestoreManifestError("line \(k + 3): bad slot range \"\(r)\"")
                }
                ranges.append(range)
            }
            shards.append(Entry(shard: ShardID(rawValue: id), slotRanges: ranges, appliedIndex: index))
        }
        guard shards.count == count else { throw RestoreManifestError("says \(count) shards but lists \(shards.count)") }
        self.shards = shards
    }

    /// Why a cluster with `map` cannot take this backup, or nil when its shards (ids and slot
    /// ranges) are exactly the backup's.
    public func mismatch(with map: ShardMap) -> String? {
        guard map.shards.count == shards.count else {
            return "the backup holds \(shards.count) shards, this cluster's config gives \(map.shards.count) (set shard_count = \(shards.count))"
        }
        for e in shards {
            guard let s = map.shard(id: e.shard) else { return "the backup's \(e.shard) does not exist in this cluster" }
            guard s.slotRanges == e.slotRanges else {
                return "\(e.shard) owns slots \(s.slotRanges) here but \(e.slotRanges) in the backup"
            }
        }
        return nil
    }
}

public struct RestoreManifestError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "restore manifest: \(message)" }
}
