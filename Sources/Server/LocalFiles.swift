#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few file operations startup needs, with errors naming the path and the system's
/// reason (so "Permission denied" reaches the operator, not a generic failure).
enum LocalFiles {
    /// Whether something exists at `path`.
    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// The whole file at `path` as UTF-8 text (invalid bytes replaced).
    static func readText(_ path: String, what: String) throws(StartupError) -> String {
        guard let file = fopen(path, "rb") else {
            throw StartupError("cannot read \(what) '\(path)': \(systemError())")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count > 0 { bytes.append(contentsOf: chunk[0..<count]) }
            if count < chunk.count {
                if ferror(file) != 0 { throw StartupError("cannot read \(what) '\(path)': \(systemError())") }
                break
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Creates `path` and its missing parents, then checks it is a writable directory.
    static func prepareDirectory(_ path: String, what: String) throws(StartupError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component + "/"
            if mkdir(prefix, 0o755) != 0, errno != EEXIST {
                throw StartupError("cannot create \(what) '\(path)': \(systemError()) (at '\(prefix)')")
            }
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw StartupError("cannot create \(what) '\(path)': \(systemError())")
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw StartupError("\(what) '\(path)' exists but is not a directory")
        }
        guard access(path, W_OK | X_OK) == 0 else {
            throw StartupError("\(what) '\(path)' is not writable: \(systemError())")
        }
    }

    /// The current `errno` as text, e.g. "Permission denied".
    static func systemError() -> String {
        String(cString: strerror(errno))
    }
}
