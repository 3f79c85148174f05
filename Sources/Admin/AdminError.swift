/// A failure of an admin command, printed as one line on stderr with a non-zero exit.
struct AdminError: Error, Hashable, Sendable, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
