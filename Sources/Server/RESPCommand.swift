import NIOCore

/// One client request: the command name followed by its arguments, each a byte string.
struct RESPCommand: Hashable, Sendable {
    /// The name (first element) and the arguments. Never empty.
    var parts: [ByteBuffer]

    /// The command name, upper-cased for matching (`get` and `GET` are the same command).
    var name: String { String(decoding: parts[0].readableBytesView, as: UTF8.self).uppercased() }

    /// The arguments after the name.
    var arguments: ArraySlice<ByteBuffer> { parts.dropFirst() }

    /// Argument `index` (0 is the first after the name) as text, if present.
    func argumentText(_ index: Int) -> String? {
        index + 1 < parts.count ? String(decoding: parts[index + 1].readableBytesView, as: UTF8.self) : nil
    }
}
