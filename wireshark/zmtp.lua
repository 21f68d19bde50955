-- polazmtp: a ZMTP 3.x dissector (ZeroMQ's wire protocol) for Wireshark 4.0 and later.
-- Greeting (version, mechanism, as-server), commands with their properties (READY's Socket-Type
-- and Identity, SUBSCRIBE/CANCEL topics, PING/PONG, ERROR), and messages frame by frame (MORE,
-- LONG sizes), reassembled across TCP segments. libzmq's 3.0-style subscriptions (a one-frame
-- message 0x01/0x00 + topic from a SUB socket) are shown as SUBSCRIBE/CANCEL too. Under CURVE
-- the command names (HELLO, WELCOME, INITIATE, READY, MESSAGE) show, their bodies only as bytes.
-- Named "polazmtp" so that it never clashes with the built-in "zmtp" of Wireshark 4.4+, which
-- registers no port or heuristic. Use: tshark -X lua_script:wireshark/zmtp.lua -r x.pcap
-- Specs: ZMTP 3.0 https://rfc.zeromq.org/spec/23/ , ZMTP 3.1 https://rfc.zeromq.org/spec/37/

local zmtp = Proto("polazmtp", "ZeroMQ Message Transport Protocol (pola)")

local f = {
    greeting = ProtoField.bytes("polazmtp.greeting", "Greeting"),
    version = ProtoField.string("polazmtp.greeting.version", "Version"),
    mechanism = ProtoField.string("polazmtp.greeting.mechanism", "Mechanism"),
    as_server = ProtoField.uint8("polazmtp.greeting.as_server", "As-server"),
    flags = ProtoField.uint8("polazmtp.flags", "Flags", base.HEX),
    more = ProtoField.bool("polazmtp.flags.more", "MORE", 8, nil, 0x01),
    long = ProtoField.bool("polazmtp.flags.long", "LONG", 8, nil, 0x02),
    command = ProtoField.bool("polazmtp.flags.command", "COMMAND", 8, nil, 0x04),
    size = ProtoField.uint64("polazmtp.size", "Size"),
    cmd_name = ProtoField.string("polazmtp.command.name", "Command"),
    prop_name = ProtoField.string("polazmtp.property.name", "Property"),
    prop_value = ProtoField.string("polazmtp.property.value", "Value"),
    socket_type = ProtoField.string("polazmtp.socket_type", "Socket-Type"),
    identity = ProtoField.bytes("polazmtp.identity", "Identity"),
    topic = ProtoField.string("polazmtp.subscription.topic", "Topic"),
    legacy = ProtoField.bool("polazmtp.subscription.legacy", "3.0-style subscription message"),
    ttl = ProtoField.uint16("polazmtp.ping.ttl", "TTL (tenths of a second)"),
    context = ProtoField.bytes("polazmtp.ping.context", "Context"),
    reason = ProtoField.string("polazmtp.error.reason", "Error reason"),
    body = ProtoField.bytes("polazmtp.body", "Body"),
    boxed = ProtoField.bytes("polazmtp.curve.box", "CURVE nonce and box (ciphertext)"),
    text = ProtoField.string("polazmtp.text", "Text"),
    msg_frames = ProtoField.uint32("polazmtp.message.frames", "Message complete, frames"),
    msg_size = ProtoField.uint64("polazmtp.message.size", "Message size"),
    malformed = ProtoField.string("polazmtp.malformed", "Malformed"),
}
zmtp.fields = f

-- Per direction: the sender's socket type and the frames of the message in progress. Built on
-- the first pass (pinfo.visited false) and cached per PDU, so re-dissection shows the same.
local dirs = {}
local cache = {}

local function dir_key(pinfo)
    return tostring(pinfo.src) .. ":" .. pinfo.src_port .. ">" .. tostring(pinfo.dst) .. ":" .. pinfo.dst_port
end

local function printable(tvb)
    local s = tvb:raw()
    return (s:gsub("[^%g ]", "."))
end

-- Length of the PDU (greeting or frame) at `off`, or nil if its header is not all here.
local function pdu_len(tvb, off)
    local avail = tvb:len() - off
    local first = tvb(off, 1):uint()
    if first == 0xFF then
        return 64
    end
    if bit.band(first, 0x02) ~= 0 then
        if avail < 9 then return nil end
        return 9 + tvb(off + 1, 8):uint64():tonumber()
    end
    if avail < 2 then return nil end
    return 2 + tvb(off + 1, 1):uint()
end

local function add_metadata(tvb, tree, off, stop, state)
    while off < stop do
        local n = tvb(off, 1):uint()
        if off + 5 + n > stop then
            tree:add(f.malformed, "property cut short")
            return
        end
        local name = tvb(off + 1, n):string()
        local vlen = tvb(off + 1 + n, 4):uint()
        if off + 5 + n + vlen > stop then
            tree:add(f.malformed, "property value cut short")
            return
        end
        local value = vlen > 0 and tvb(off + 5 + n, vlen) or nil
        local vtext = value and printable(value) or ""
        local item = tree:add(f.prop_name, tvb(off, 5 + n + vlen), name)
        item:append_text(" = " .. vtext)
        item:add(f.prop_value, vtext)
        if name:lower() == "socket-type" then
            tree:add(f.socket_type, vtext)
            if state then state.socket_type = vtext end
        elseif name:lower() == "identity" and value then
            tree:add(f.identity, value)
        end
        off = off + 5 + n + vlen
    end
end

local function dissect_greeting(tvb, tree, info, state)
    local g = tree:add(f.greeting, tvb(0, 64))
    local version = tvb(10, 1):uint() .. "." .. tvb(11, 1):uint()
    local mech = tvb(12, 20):stringz()
    g:set_text("Greeting: ZMTP " .. version .. ", mechanism " .. mech .. ", as-server " .. tvb(32, 1):uint())
    g:add(f.version, tvb(10, 2), version)
    g:add(f.mechanism, tvb(12, 20), mech)
    g:add(f.as_server, tvb(32, 1))
    table.insert(info, "Greeting " .. version .. " " .. mech)
    -- CURVE (RFC 26): the handshake commands carry boxes, and every message frame travels as a
    -- MESSAGE command (libzmq 4.3 sends it in a data frame that starts "\7MESSAGE").
    state.curve = mech == "CURVE"
end

-- CURVE's commands, whose bodies are ciphertext: shown by name and size only.
local boxed = { HELLO = true, WELCOME = true, INITIATE = true, READY = true, MESSAGE = true }

local function dissect_frame(tvb, pinfo, tree, info, state)
    local flags = tvb(0, 1):uint()
    local head = bit.band(flags, 0x02) ~= 0 and 9 or 2
    local size = tvb:len() - head
    local more = bit.band(flags, 0x01) ~= 0
    local is_cmd = bit.band(flags, 0x04) ~= 0
    local t = tree:add(zmtp, tvb(), is_cmd and "Command" or "Frame")
    local ft = t:add(f.flags, tvb(0, 1))
    ft:add(f.more, tvb(0, 1))
    ft:add(f.long, tvb(0, 1))
    ft:add(f.command, tvb(0, 1))
    t:add(f.size, tvb(1, head - 1), UInt64(size))
    if bit.band(flags, 0xF8) ~= 0 then
        t:add(f.malformed, "reserved flag bits set")
        table.insert(info, "Malformed")
        return
    end
    local body = size > 0 and tvb(head, size) or nil
    if is_cmd then
        if not body then
            t:add(f.malformed, "empty command")
            return
        end
        local n = body(0, 1):uint()
        local name = body(1, n):string()
        t:add(f.cmd_name, body(1, n), name)
        t:set_text("Command " .. name)
        local dataoff = head + 1 + n
        local stop = tvb:len()
        local text = name
        if state.curve and boxed[name] then
            t:add(f.boxed, tvb(dataoff, stop - dataoff))
            text = text .. " " .. (stop - dataoff) .. " bytes encrypted"
        elseif name == "READY" or name == "INITIATE" or name == "WELCOME" then
            add_metadata(tvb, t, dataoff, stop, state)
            if state and state.socket_type then text = text .. " " .. state.socket_type end
        elseif name == "SUBSCRIBE" or name == "CANCEL" then
            local topic = stop > dataoff and printable(tvb(dataoff, stop - dataoff)) or ""
            t:add(f.topic, topic)
            text = text .. " \"" .. topic .. "\""
        elseif name == "PING" and stop - dataoff >= 2 then
            t:add(f.ttl, tvb(dataoff, 2))
            if stop - dataoff > 2 then t:add(f.context, tvb(dataoff + 2, stop - dataoff - 2)) end
        elseif name == "PONG" and stop > dataoff then
            t:add(f.context, tvb(dataoff, stop - dataoff))
        elseif name == "ERROR" and stop > dataoff then
            local rn = tvb(dataoff, 1):uint()
            t:add(f.reason, tvb(dataoff + 1, math.min(rn, stop - dataoff - 1)):string())
        end
        table.insert(info, text)
        return
    end
    if state.curve and size >= 8 and body(0, 8):string() == "\7MESSAGE" then
        t:add(f.cmd_name, body(1, 7), "MESSAGE")
        t:add(f.boxed, body(8, size - 8))
        t:set_text("Command MESSAGE (in a data frame)")
        table.insert(info, "MESSAGE " .. (size - 8) .. " bytes encrypted")
        return
    end
    if body then
        t:add(f.body, body)
        t:add(f.text, printable(body(0, math.min(size, 64))))
    end
    t:set_text("Frame " .. size .. " bytes" .. (more and " MORE" or ""))
    local frames, msize = state.frames + 1, state.size + size
    if more then
        state.frames, state.size = frames, msize
        return
    end
    state.frames, state.size = 0, 0
    local st = state.socket_type
    if frames == 1 and (st == "SUB" or st == "XSUB") and body and body(0, 1):uint() <= 1 then
        local name = body(0, 1):uint() == 1 and "SUBSCRIBE" or "CANCEL"
        local topic = size > 1 and printable(body(1, size - 1)) or ""
        t:add(f.cmd_name, name)
        t:add(f.topic, topic)
        t:add(f.legacy, true)
        table.insert(info, name .. " \"" .. topic .. "\" (3.0 message)")
        return
    end
    t:add(f.msg_frames, frames)
    t:add(f.msg_size, UInt64(msize))
    table.insert(info, "Message " .. frames .. (frames == 1 and " frame" or " frames"))
end

function zmtp.dissector(tvb, pinfo, tree)
    local len = tvb:len()
    local key = dir_key(pinfo)
    local state = dirs[key]
    if not state then
        state = { frames = 0, size = 0 }
        dirs[key] = state
    end
    local off = 0
    local info = {}
    local subtree = nil
    while off < len do
        local need = pdu_len(tvb, off)
        if need == nil or off + need > len then
            -- Ask TCP for the rest of this greeting or frame before dissecting it.
            pinfo.desegment_offset = off
            pinfo.desegment_len = need and (off + need - len) or DESEGMENT_ONE_MORE_SEGMENT
            break
        end
        subtree = subtree or tree:add(zmtp, tvb())
        local pdu = tvb(off, need):tvb()
        -- On later passes, replay the direction state this PDU saw on the first pass.
        local ck = pinfo.number .. ":" .. off
        if pinfo.visited and cache[ck] then
            local c = cache[ck]
            state = { frames = c.frames, size = c.size, socket_type = c.socket_type, curve = c.curve }
        elseif not pinfo.visited then
            cache[ck] = { frames = state.frames, size = state.size, socket_type = state.socket_type, curve = state.curve }
        end
        if need == 64 and pdu(0, 1):uint() == 0xFF then
            dissect_greeting(pdu, subtree, info, state)
        else
            dissect_frame(pdu, pinfo, subtree, info, state)
        end
        off = off + need
    end
    if #info > 0 then
        pinfo.cols.protocol = "ZMTP"
        pinfo.cols.info = table.concat(info, ", ")
    end
    return len
end

-- Heuristic: a stream whose first bytes are the greeting signature (0xFF, 8 bytes, 0x7F).
local function heuristic(tvb, pinfo, tree)
    if tvb:len() < 10 or tvb(0, 1):uint() ~= 0xFF or tvb(9, 1):uint() ~= 0x7F then
        return false
    end
    pinfo.conversation = zmtp
    zmtp.dissector(tvb, pinfo, tree)
    return true
end

function zmtp.init()
    dirs = {}
    cache = {}
end

local tcp_port = DissectorTable.get("tcp.port")
for _, port in ipairs({ 5555, 5556, 5557, 5558, 5565, 5566 }) do
    tcp_port:add(port, zmtp)
end
zmtp:register_heuristic("tcp", heuristic)
