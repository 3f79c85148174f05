/// A reason the node cannot start, phrased as one line telling the operator what to fix.
struct StartupError: Error, Hashable, Sendable, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
