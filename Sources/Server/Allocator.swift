import CJemalloc

/// The memory allocator the server runs on: jemalloc, linked in (see Package.swift), named on
/// the startup line so an operator can tell.
enum Allocator {
    static var name: String {
        var version: UnsafePointer<CChar>?
        var size = MemoryLayout<UnsafePointer<CChar>?>.size
        guard mallctl("version", &version, &size, nil, 0) == 0, let version else { return "jemalloc" }
        return "jemalloc " + String(String(cString: version).prefix { $0 != "-" })
    }
}
