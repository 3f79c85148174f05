import Foundation
import ShardRouter

/// Reads `cluster.membership` with the same rules as the server (see ``Membership``).
enum MembershipFile {
    /// Where the admin CLI looks by default: the current directory.
    static let defaultPath = "cluster.membership"

    static func load(_ path: String) throws(AdminError) -> Membership {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "not readable" : "no such file"
            throw AdminError("cannot read membership file '\(path)': \(reason) (pass --membership PATH)")
        }
        do {
            return try Membership(parsing: String(decoding: data, as: UTF8.self), source: path)
        } catch {
            throw AdminError(error.description)
        }
    }
}
