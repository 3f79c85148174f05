/// The Redis Cluster hash tag rule: if a key contains `{`, and a later `}` follows it with at
/// least one byte between them, only the bytes between the first `{` and the first `}` after
/// it are hashed. Keys sharing a tag therefore share a slot (and a shard), which is what makes
/// multi-key operations on them possible.
public enum HashTag {
    /// The part of `key` that decides its slot: the hash tag's content when the key has a
    /// non-empty one, otherwise the whole key.
    public static func hashedPart<Key: Collection>(of key: Key) -> Key.SubSequence where Key.Element == UInt8 {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")) else { return key[...] }
        let contentStart = key.index(after: open)
        guard let close = key[contentStart...].firstIndex(of: UInt8(ascii: "}")),
              close != contentStart
        else { return key[...] }
        return key[contentStart..<close]
    }
}
