// The protocol types (RESPReply, RESPParser, RESPEncoder, RESPError) are part of this
// library's API: users of the client see them without importing RESP themselves.
@_exported import RESP
