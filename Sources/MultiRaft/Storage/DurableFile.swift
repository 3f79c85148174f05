#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file opened for appending and reading with the system calls the storage needs
/// (write, pread, fdatasync, ftruncate), each failure reported with the path and errno.
public final class DurableFile {
    public let path: String
    private var fd: Int32

    public enum Mode { case readOnly, appendCreate, truncateCreate }

    public init(path: String, mode: Mode) throws(StorageError) {
        self.path = path
        let flags: Int32
        switch mode {
        case .readOnly: flags = O_RDONLY
        case .appendCreate: flags = O_RDWR | O_CREAT | O_APPEND
        case .truncateCreate: flags = O_RDWR | O_CREAT | O_TRUNC
        }
        fd = open(path, flags | O_CLOEXEC, 0o644)
        if fd < 0 { throw Self.error(path, "cannot open") }
    }

    deinit { if fd >= 0 { close(fd) } }

    static func error(_ path: String, _ what: String, offset: Int? = nil) -> StorageError {
        StorageError(path: path, offset: offset, reason: "\(what): \(String(cString: strerror(errno)))")
    }

    public var size: Int {
        var st = stat()
        return fstat(fd, &st) == 0 ? Int(st.st_size) : 0
    }

    /// Writes all of `bytes` at the end of the file.
    public func append(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.error(path, "write failed")
            }
            done += n
        }
    }

    public func append(_ bytes: [UInt8]) throws(StorageError) {
        var failure: StorageError?
        bytes.withUnsafeBytes { p in
            do throws(StorageError) { try append(p) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Makes written data durable (not the file's metadata unless needed to read it back).
    public func sync() throws(StorageError) {
        if fdatasync(fd) != 0 { throw Self.error(path, "fdatasync failed") }
    }

    public func fullSync() throws(StorageError) {
        if fsync(fd) != 0 { throw Self.error(path, "fsync failed") }
    }

    public func truncate(to length: Int) throws(StorageError) {
        if ftruncate(fd, off_t(length)) != 0 { throw Self.error(path, "truncate failed", offset: length) }
    }

    /// Cuts the file to `length` and writes from there on (a file not opened for appending).
    public func rewind(to length: Int) throws(StorageError) {
        try truncate(to: length)
        if lseek(fd, off_t(length), SEEK_SET) < 0 { throw Self.error(path, "seek failed", offset: length) }
    }

    /// Reads up to `count` bytes at `offset`.
    public func read(at offset: Int, count: Int) throws(StorageError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.error(path, "read failed", offset: offset + done)
            }
            if n == 0 { break }
            done += n
        }
        if done < count { out.removeLast(count - done) }
        return out
    }

    public func readAll() throws(StorageError) -> [UInt8] { try read(at: 0, count: size) }
}

/// Directory helpers used by the storage.
public enum FileSystem {
    public static func makeDirectory(_ path: String) throws(StorageError) {
        var st = stat()
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) != S_IFDIR { throw StorageError(path: path, reason: "exists and is not a directory") }
            return
        }
        let parent = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !parent.isEmpty && parent != path { try makeDirectory(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw DurableFile.error(path, "cannot create directory") }
    }

    public static func list(_ path: String) throws(StorageError) -> [String] {
        guard let dir = opendir(path) else { throw DurableFile.error(path, "cannot list directory") }
        defer { closedir(dir) }
        var names: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafePointer(to: e.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public static func remove(_ path: String) throws(StorageError) {
        if unlink(path) != 0 && errno != ENOENT { throw DurableFile.error(path, "cannot remove") }
    }

    /// Removes an empty directory.
    public static func removeDirectory(_ path: String) throws(StorageError) {
        if rmdir(path) != 0 && errno != ENOENT { throw DurableFile.error(path, "cannot remove directory") }
    }

    public static func rename(_ from: String, _ to: String) throws(StorageError) {
        if Glibc.rename(from, to) != 0 { throw DurableFile.error(from, "cannot rename to \(to)") }
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// The size of the file at `path` in bytes, or nil when it cannot be read.
    public static func size(of path: String) -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : nil
    }

    /// Replaces the small file at `path` so that it survives a crash whole or not at all:
    /// written to `path.tmp`, fsynced, renamed over `path`, directory fsynced.
    public static func writeDurably(_ bytes: [UInt8], to path: String) throws(StorageError) {
        let f = try DurableFile(path: path + ".tmp", mode: .truncateCreate)
        try f.append(bytes)
        try f.sync()
        try rename(path + ".tmp", path)
        let slash = path.lastIndex(of: "/")
        try syncDirectory(slash.map { String(path[..<$0]) } ?? ".")
    }

    /// fsyncs a directory so that a rename or a new file in it survives a crash.
    public static func syncDirectory(_ path: String) throws(StorageError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw DurableFile.error(path, "cannot open directory") }
        defer { close(fd) }
        if fsync(fd) != 0 { throw DurableFile.error(path, "fsync of directory failed") }
    }
}
