-- v_interkernel.lua: a Wireshark dissector for vcluster's V interkernel protocol (docs/PROTOCOL.md).
--
--   tshark -X lua_script:v_interkernel.lua -r capture.pcap         (one run)
--   vcluster wireshark --install                                   (into the personal plugin folder)
--
-- Decodes ethertype 0x88B5: the 40-byte header (kind, flags as bits, CRC-32 checked, seq, pids
-- decoded as logical host + index or a group's name), the 32-byte message as 8 longs with the
-- request code of long 0 named (IO_*, FS_*, PM_*, MG_*, KS_*) and reply codes and errors named,
-- and the bulk fields of MOVE_DATA, MOVE_ACK and MOVEFROM_REQ. Filter names start with "vik.".
-- Works with the Lua 5.1/5.2 (bit32 or bit) and 5.3/5.4 (operators) of Wireshark 3.x and 4.x.

-- loaded twice (an installed copy and -X lua_script): the first one serves
do
  local ok, loaded = pcall(Dissector.get, "vik")
  if ok and loaded then
    return
  end
end

-- BEGIN GENERATED: python -m vcluster.wireshark --regenerate (tests/test_wireshark.py checks it)
local ETHERTYPE_V = 0x88b5
local VERSION = 1
local HEADER_SIZE = 40
local MSG_SIZE = 32
local MAX_DATA = 1024
local MAX_TRAIN = 32
local GROUP_BIT = 0x8000
local KINDS = {
  [0x01] = "SEND",
  [0x02] = "REPLY",
  [0x03] = "REPLY_PENDING",
  [0x04] = "NACK",
  [0x05] = "FORWARDED",
  [0x06] = "MOVE_DATA",
  [0x07] = "MOVE_ACK",
  [0x08] = "MOVEFROM_REQ",
  [0x09] = "LH_QUERY",
  [0x0a] = "LH_HERE",
  [0x0b] = "MOVE_ABORT",
  [0x0c] = "MIGRATE",
  [0x0d] = "LOAD",
}
local FLAGS = {
  [0x0001] = "LAST_OF_TRAIN",
  [0x0002] = "IS_RETRANSMISSION",
  [0x0004] = "GROUP",
  [0x0008] = "SEGMENT",
  [0x0010] = "GROUP_REPLY",
}
local ERRORS = {
  [0x01] = "EBADCALL",
  [0x02] = "EFAULT",
  [0x03] = "ENOPROC",
  [0x04] = "ENOMEM",
  [0x05] = "ENOTAWAITING",
  [0x06] = "ETIMEOUT",
  [0x07] = "EINVAL",
  [0x08] = "ENOENT",
  [0x09] = "EIO",
  [0x0a] = "EKILLED",
  [0x0b] = "EPERM",
}
local CODES = {
  [0x100] = "IO_WRITE",
  [0x101] = "IO_READ",
  [0x102] = "IO_CLOSE",
  [0x103] = "IO_INPUT",
  [0x110] = "FS_OPEN",
  [0x111] = "FS_REMOVE",
  [0x112] = "FS_LIST",
  [0x113] = "FS_WRITE_AT",
  [0x114] = "FS_QUERY_SERVER",
  [0x115] = "FS_PUT",
  [0x116] = "FS_MERGE",
  [0x117] = "FS_COLLECT",
  [0x200] = "PM_EXEC",
  [0x201] = "PM_WAIT",
  [0x202] = "PM_KILL",
  [0x203] = "PM_SUSPEND",
  [0x204] = "PM_RESUME",
  [0x205] = "PM_QUERY_HOST",
  [0x206] = "PM_MIGRATE",
  [0x207] = "PM_EXITED",
  [0x208] = "PM_LIST",
  [0x209] = "PM_QUERY_PROGRAM",
  [0x20a] = "PM_CHECKPOINT",
  [0x20b] = "PM_RFORK",
  [0x210] = "MG_INIT",
  [0x211] = "MG_PAGES",
  [0x212] = "MG_STATE",
  [0x213] = "MG_ABORT",
  [0x214] = "MG_COMMIT",
  [0x215] = "MG_OUTCOME",
  [0x216] = "MG_WHERE",
  [0x300] = "KS_HOST_INFO",
  [0x301] = "KS_PROCESS_INFO",
}
local MG = {
  [0x210] = "MG_INIT",
  [0x211] = "MG_PAGES",
  [0x212] = "MG_STATE",
  [0x213] = "MG_ABORT",
  [0x214] = "MG_COMMIT",
  [0x215] = "MG_OUTCOME",
  [0x216] = "MG_WHERE",
}
local GROUPS = {
  [0x8001] = "program manager group",
  [0x8002] = "local kernel server",
  [0x8003] = "local program manager",
  [0x8004] = "file server group",
}
-- END GENERATED

-- bit operations on unsigned 32-bit values, whichever library this Lua has
local band, bxor, rshift
do
  local b = rawget(_G, "bit32") or rawget(_G, "bit")
  if b then
    band, bxor, rshift = b.band, b.bxor, b.rshift
  else
    band, bxor, rshift = load([[return function(a, b) return a & b end,
      function(a, b) return a ~ b end, function(a, n) return (a & 0xFFFFFFFF) >> n end]])()
  end
end
local U32 = 4294967296

-- CRC-32 (IEEE 802.3, reflected, as zlib.crc32)
local CRC_TABLE = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if band(c, 1) ~= 0 then
      c = bxor(rshift(c, 1), 0xEDB88320)
    else
      c = rshift(c, 1)
    end
  end
  CRC_TABLE[i] = c
end

local function crc32(s)
  local c = 0xFFFFFFFF
  for i = 1, #s do
    c = bxor(CRC_TABLE[band(bxor(c, s:byte(i)), 0xFF)], rshift(c, 8))
  end
  return bxor(c, 0xFFFFFFFF) % U32
end

local function signed(v)
  if v >= 0x80000000 then
    return v - U32
  end
  return v
end

local REPLY_NAMES = { [0] = "OK" }
for n, name in pairs(ERRORS) do
  REPLY_NAMES[-n] = name
end

local function error_name(v)
  return REPLY_NAMES[v] or string.format("%d", v)
end

local CHECKSUM_STATUS = { [0] = "Bad", [1] = "Good", [2] = "Unverified" }

local vik = Proto("vik", "V interkernel protocol")
local F = {
  version = ProtoField.uint8("vik.version", "Version", base.DEC),
  kind = ProtoField.uint8("vik.kind", "Kind", base.DEC, KINDS),
  kind_name = ProtoField.string("vik.kind.name", "Kind name"),
  flags = ProtoField.uint16("vik.flags", "Flags", base.HEX),
  checksum = ProtoField.uint32("vik.checksum", "Checksum (CRC-32)", base.HEX),
  checksum_status = ProtoField.uint8("vik.checksum.status", "Checksum status", base.DEC,
    CHECKSUM_STATUS),
  checksum_calc = ProtoField.uint32("vik.checksum.calculated", "Computed checksum", base.HEX),
  seq = ProtoField.uint32("vik.seq", "Sequence", base.HEX),
  src = ProtoField.uint32("vik.src_pid", "Source pid", base.HEX),
  src_lh = ProtoField.uint16("vik.src_pid.lhid", "Logical host", base.HEX),
  src_index = ProtoField.uint16("vik.src_pid.index", "Index", base.HEX),
  src_group = ProtoField.string("vik.src_pid.group", "Group"),
  dst = ProtoField.uint32("vik.dst_pid", "Destination pid", base.HEX),
  dst_lh = ProtoField.uint16("vik.dst_pid.lhid", "Logical host", base.HEX),
  dst_index = ProtoField.uint16("vik.dst_pid.index", "Index", base.HEX),
  dst_group = ProtoField.string("vik.dst_pid.group", "Group"),
  pid = ProtoField.uint32("vik.pid", "Source or destination pid", base.HEX),
  status = ProtoField.int32("vik.status", "Status", base.DEC),
  status_name = ProtoField.string("vik.status.name", "Status name"),
  offset = ProtoField.uint32("vik.offset", "Offset", base.HEX),
  total = ProtoField.uint32("vik.total", "Total", base.HEX),
  lhid = ProtoField.uint16("vik.lhid", "Logical host", base.HEX),
  msg_len = ProtoField.uint8("vik.msg_len", "Message length", base.DEC),
  reserved = ProtoField.bytes("vik.reserved", "Reserved"),
  data_len = ProtoField.uint16("vik.data_len", "Data length", base.DEC),
  msg = ProtoField.bytes("vik.msg", "Message"),
  long = ProtoField.uint32("vik.msg.long", "Long", base.HEX),
  code = ProtoField.uint32("vik.msg.code", "Request code", base.HEX, CODES),
  code_name = ProtoField.string("vik.msg.code.name", "Request code name"),
  reply = ProtoField.int32("vik.msg.reply", "Reply code", base.DEC),
  reply_name = ProtoField.string("vik.msg.reply.name", "Reply code name"),
  reply_to = ProtoField.string("vik.reply_to", "Answers request"),
  mg = ProtoField.string("vik.mg", "Migration step"),
  data = ProtoField.bytes("vik.data", "Data"),
  json = ProtoField.string("vik.data.json", "JSON (start)"),
  move_offset = ProtoField.uint32("vik.move.offset", "Transfer offset", base.DEC),
  move_total = ProtoField.uint32("vik.move.total", "Transfer length", base.DEC),
  move_base = ProtoField.uint32("vik.move.base", "Destination base address", base.HEX),
  ack_first = ProtoField.uint32("vik.ack.first_missing", "First missing offset", base.DEC),
  ack_bitmap = ProtoField.uint32("vik.ack.bitmap", "Received bitmap", base.HEX),
  ack_received = ProtoField.uint8("vik.ack.received", "Packets received after the first missing",
    base.DEC),
  mf_address = ProtoField.uint32("vik.movefrom.address", "Source address", base.HEX),
  mf_count = ProtoField.uint32("vik.movefrom.count", "Count", base.DEC),
  resume_first = ProtoField.uint32("vik.movefrom.resume_first", "Resume: first missing", base.DEC),
  resume_bitmap = ProtoField.uint32("vik.movefrom.resume_bitmap", "Resume: bitmap", base.HEX),
  seg_address = ProtoField.uint32("vik.segment.address", "Segment address", base.HEX),
  seg_size = ProtoField.uint32("vik.segment.size", "Segment size", base.DEC),
  subtype = ProtoField.uint32("vik.migrate.subtype", "Subtype", base.HEX, MG),
}
local FLAG_FIELDS = {}
do
  local bits = {}
  for value in pairs(FLAGS) do
    bits[#bits + 1] = value
  end
  table.sort(bits)
  for _, value in ipairs(bits) do
    local name = FLAGS[value]
    local field = ProtoField.bool("vik.flags." .. name:lower(), name, 16, nil, value)
    F["flag_" .. name] = field
    FLAG_FIELDS[#FLAG_FIELDS + 1] = { value, name, field }
  end
end
local fields = {}
for _, field in pairs(F) do
  fields[#fields + 1] = field
end
vik.fields = fields

local E_CHECKSUM = ProtoExpert.new("vik.checksum.bad", "Bad checksum", expert.group.CHECKSUM,
  expert.severity.ERROR)
local E_MALFORMED = ProtoExpert.new("vik.malformed", "Malformed V packet", expert.group.MALFORMED,
  expert.severity.ERROR)
local E_RETRANSMISSION = ProtoExpert.new("vik.retransmission", "Retransmission",
  expert.group.SEQUENCE, expert.severity.NOTE)
vik.experts = { E_CHECKSUM, E_MALFORMED, E_RETRANSMISSION }

-- what a pid is, in words
local function describe_pid(pid)
  if pid == 0 then
    return "none"
  end
  local lh, index = rshift(pid, 16), band(pid, 0xFFFF)
  if band(index, GROUP_BIT) ~= 0 then
    local name = GROUPS[index]
    if name == nil then
      return string.format("group 0x%04x of lh 0x%04x", index, lh), "group"
    elseif lh == 0 then
      return name, name
    end
    return string.format("%s of lh 0x%04x", name, lh), name
  end
  return string.format("lh 0x%04x, index %d", lh, index)
end

local function short_pid(pid)
  if pid == 0 then
    return "0"
  end
  local index = band(pid, 0xFFFF)
  local name = GROUPS[index]
  if name == "program manager group" and rshift(pid, 16) == 0 then
    return "PM-group"
  elseif name then
    return string.format("%s(%04x)", name == "local kernel server" and "KS" or "PM",
      rshift(pid, 16))
  end
  return string.format("%08x", pid)
end

local function add_pid(tree, r, f, f_lh, f_index, f_group)
  local pid = r:uint()
  local text, group = describe_pid(pid)
  local item = tree:add(f, r)
  item:append_text(" (" .. text .. ")")
  item:add(f_lh, r(0, 2))
  item:add(f_index, r(2, 2))
  if group then
    item:add(f_group, r(2, 2), group)
  end
  tree:add(F.pid, r):set_hidden()
  return pid
end

-- SEND requests seen, by "sender pid:seq" -> request code, so that a REPLY can say what it answers
local requests = {}

function vik.init()
  requests = {}
end

local function code_label(code)
  return CODES[code] or string.format("0x%x", code)
end

local function dissect_message(r, tree, kind, answered)
  local mtree = tree:add(F.msg, r)
  local first = r(0, 4):uint()
  local label
  if kind == "REPLY" then
    local v = signed(first)
    local name = error_name(v)
    mtree:add(F.reply, r(0, 4)):append_text(" (" .. name .. ")")
    mtree:add(F.reply_name, r(0, 4), name):set_hidden()
    label = name
    if answered then
      label = code_label(answered) .. " -> " .. name
    end
  else
    local item = mtree:add(F.code, r(0, 4))
    if CODES[first] then
      mtree:add(F.code_name, r(0, 4), CODES[first]):set_hidden()
    end
    label = code_label(first)
    if not CODES[first] then
      item:append_text(" (unknown code)")
    end
  end
  mtree:append_text(": " .. label)
  for i = 0, 7 do
    local lr = r(i * 4, 4)
    local v = lr:uint()
    local item = mtree:add(F.long, lr)
    local extra = ""
    if i == 0 then
      extra = " (" .. label .. ")"
    end
    item:set_text(string.format("Long %d: 0x%08x (%d)%s", i, v, signed(v), extra))
  end
  return first, label
end

local function count_bits(v)
  local n = 0
  while v ~= 0 do
    n = n + band(v, 1)
    v = rshift(v, 1)
  end
  return n
end

function vik.dissector(tvb, pinfo, root)
  local avail = tvb:len()
  if avail < 2 then
    return 0
  end
  pinfo.cols.protocol = "V"
  local tree = root:add(vik, tvb())
  if avail < HEADER_SIZE then
    tree:add_proto_expert_info(E_MALFORMED, string.format("short: %d bytes, header is %d", avail,
      HEADER_SIZE))
    pinfo.cols.info = "V (short packet)"
    return avail
  end
  local version = tvb(0, 1):uint()
  local kind_n = tvb(1, 1):uint()
  local flags = tvb(2, 2):uint()
  local seq = tvb(8, 4):uint()
  local status = signed(tvb(20, 4):uint())
  local offset = tvb(24, 4):uint()
  local total = tvb(28, 4):uint()
  local lhid = tvb(32, 2):uint()
  local msg_len = tvb(34, 1):uint()
  local data_len = tvb(36, 2):uint()
  local kind = KINDS[kind_n]
  local kind_label = kind or string.format("kind %d", kind_n)

  tree:add(F.version, tvb(0, 1))
  local kitem = tree:add(F.kind, tvb(1, 1))
  tree:add(F.kind_name, tvb(1, 1), kind_label):set_hidden()
  local ftree = tree:add(F.flags, tvb(2, 2))
  local set = {}
  for _, entry in ipairs(FLAG_FIELDS) do
    ftree:add(entry[3], tvb(2, 2))
    if band(flags, entry[1]) ~= 0 then
      set[#set + 1] = entry[2]
    end
  end
  if #set > 0 then
    ftree:append_text(" (" .. table.concat(set, ", ") .. ")")
  end

  local length = HEADER_SIZE + msg_len + data_len
  local citem = tree:add(F.checksum, tvb(4, 4))
  local problem
  if version ~= VERSION then
    problem = string.format("bad-version: version %d", version)
  elseif msg_len ~= 0 and msg_len ~= MSG_SIZE then
    problem = string.format("bad-msg: msg length %d", msg_len)
  elseif data_len > MAX_DATA then
    problem = string.format("data-too-long: data length %d", data_len)
  elseif length > avail then
    problem = string.format("bad-length: header says %d bytes, payload has %d", length, avail)
  end
  if problem then
    citem:add(F.checksum_status, tvb(4, 4), 2):set_generated()
    tree:add_proto_expert_info(E_MALFORMED, problem)
    pinfo.cols.info = "V " .. kind_label .. " [malformed: " .. problem .. "]"
    return avail
  end
  local stored = tvb(4, 4):uint()
  local computed = crc32(tvb:raw(0, 4) .. "\0\0\0\0" .. tvb:raw(8, length - 8))
  local bad = computed ~= stored
  if bad then
    citem:append_text(string.format(" [incorrect, should be 0x%08x]", computed))
    citem:add(F.checksum_status, tvb(4, 4), 0):set_generated()
    citem:add(F.checksum_calc, tvb(4, 4), computed):set_generated()
    citem:add_proto_expert_info(E_CHECKSUM, string.format(
      "Bad checksum: 0x%08x, computed 0x%08x", stored, computed))
  else
    citem:append_text(" [correct]")
    citem:add(F.checksum_status, tvb(4, 4), 1):set_generated()
  end
  if kind == nil then
    kitem:append_text(" (unknown kind)")
    tree:add_proto_expert_info(E_MALFORMED, string.format("unknown-kind: kind %d", kind_n))
  end

  tree:add(F.seq, tvb(8, 4))
  local src = add_pid(tree, tvb(12, 4), F.src, F.src_lh, F.src_index, F.src_group)
  local dst = add_pid(tree, tvb(16, 4), F.dst, F.dst_lh, F.dst_index, F.dst_group)

  -- status, offset, total: what they mean depends on the kind
  local sr, orr, tr = tvb(20, 4), tvb(24, 4), tvb(28, 4)
  local function generic(f, r, specific)
    if specific then
      tree:add(f, r):set_hidden()
      return tree:add(specific, r)
    end
    return tree:add(f, r)
  end
  local info_extra = ""
  local segment = band(flags, 0x0008) ~= 0
  if kind == "NACK" or kind == "MOVE_ABORT" then
    local name = error_name(status)
    tree:add(F.status, sr):append_text(" (" .. name .. ")")
    tree:add(F.status_name, sr, name):set_hidden()
    generic(F.offset, orr)
    generic(F.total, tr)
    info_extra = " " .. name
  elseif kind == "MOVE_DATA" then
    generic(F.status, sr, F.move_base)
    generic(F.offset, orr, F.move_offset)
    generic(F.total, tr, F.move_total)
    info_extra = string.format(" %d+%d/%d", offset, data_len, total)
  elseif kind == "MOVE_ACK" then
    generic(F.status, sr)
    generic(F.offset, orr, F.ack_first)
    local bitem = generic(F.total, tr, F.ack_bitmap)
    local n = count_bits(total)
    bitem:append_text(string.format(" (%d of the %d packets from the first missing received)", n,
      MAX_TRAIN))
    tree:add(F.ack_received, tr, n):set_generated()
    info_extra = string.format(" first missing %d, bitmap 0x%08x", offset, total)
  elseif kind == "MOVEFROM_REQ" then
    generic(F.status, sr)
    generic(F.offset, orr, F.mf_address)
    generic(F.total, tr, F.mf_count)
    info_extra = string.format(" 0x%x, %d bytes", offset, total)
  elseif (kind == "SEND" or kind == "REPLY") and segment then
    generic(F.status, sr)
    generic(F.offset, orr, F.seg_address)
    generic(F.total, tr, F.seg_size)
  elseif kind == "MIGRATE" then
    local item = generic(F.status, sr, F.subtype)
    if MG[status] then
      tree:add(F.mg, sr, MG[status]):set_generated()
      info_extra = " " .. MG[status]
    else
      item:append_text(" (unknown subtype)")
    end
    generic(F.offset, orr)
    generic(F.total, tr)
  else
    generic(F.status, sr)
    generic(F.offset, orr)
    generic(F.total, tr)
  end
  local litem = tree:add(F.lhid, tvb(32, 2))
  if kind == "LH_QUERY" or kind == "LH_HERE" then
    litem:append_text(" (the subject)")
    info_extra = string.format(" lh 0x%04x", lhid)
  else
    litem:append_text(" (the sender's)")
  end
  tree:add(F.msg_len, tvb(34, 1))
  tree:add(F.reserved, tvb(35, 1))
  tree:add(F.data_len, tvb(36, 2))
  tree:add(F.reserved, tvb(38, 2))

  -- which request a REPLY answers (tracked by sender pid and seq)
  local answered
  if kind == "SEND" and msg_len == MSG_SIZE and not pinfo.visited then
    requests[src .. ":" .. seq] = tvb(HEADER_SIZE, 4):uint()
  elseif kind == "REPLY" or kind == "REPLY_PENDING" or kind == "NACK" then
    answered = requests[dst .. ":" .. seq]
    if answered then
      tree:add(F.reply_to, tvb(8, 4), code_label(answered)):set_generated()
    end
  end

  if msg_len == MSG_SIZE then
    local code, label = dissect_message(tvb(HEADER_SIZE, MSG_SIZE), tree, kind, answered)
    if kind ~= "REPLY" and MG[code] then
      tree:add(F.mg, tvb(HEADER_SIZE, 4), MG[code]):set_generated()
    end
    info_extra = info_extra .. " " .. label
  elseif kind == "REPLY_PENDING" and answered then
    info_extra = info_extra .. " " .. code_label(answered)
  end
  if answered and MG[answered] and kind ~= "SEND" then
    tree:add(F.mg, tvb(8, 4), MG[answered]):set_generated()
  end

  if data_len > 0 then
    local dr = tvb(HEADER_SIZE + msg_len, data_len)
    local ditem = tree:add(F.data, dr)
    if kind == "MOVEFROM_REQ" and data_len == 8 then
      ditem:add(F.resume_first, dr(0, 4))
      ditem:add(F.resume_bitmap, dr(4, 4))
    elseif dr(0, 1):uint() == 0x7B then -- '{': a migration's JSON blob (MG_INIT layout, MG_STATE)
      ditem:add(F.json, dr, dr:raw())
    end
  end

  local notes = {}
  for _, name in ipairs(set) do
    if name == "IS_RETRANSMISSION" then
      notes[#notes + 1] = "RETX"
      tree:add_proto_expert_info(E_RETRANSMISSION)
    elseif name == "LAST_OF_TRAIN" then
      notes[#notes + 1] = "LAST"
    elseif name == "GROUP" then
      notes[#notes + 1] = "GROUP"
    elseif name == "SEGMENT" then
      notes[#notes + 1] = "SEG"
    elseif name == "GROUP_REPLY" then
      notes[#notes + 1] = "GROUP_REPLY"
    end
  end
  local info = string.format("%s seq=0x%x %s -> %s%s", kind_label, seq, short_pid(src),
    short_pid(dst), info_extra)
  if #notes > 0 then
    info = info .. " [" .. table.concat(notes, ",") .. "]"
  end
  if bad then
    info = info .. " [BAD CHECKSUM]"
  end
  pinfo.cols.info = info
  tree:append_text(string.format(", %s, seq 0x%x", kind_label, seq))
  return length
end

DissectorTable.get("ethertype"):add(ETHERTYPE_V, vik)
