-- Shared by the control-plane wrk scripts: a random bitfield of `pieces` pieces as hex
-- (BitTorrent order, spare bits of the last byte zero), from math.random's state.
function bitfield_hex(pieces)
  local bytes = math.floor((pieces + 7) / 8)
  local out = {}
  for b = 1, bytes do
    local v = math.random(0, 255)
    if b == bytes and pieces % 8 ~= 0 then
      v = v - v % (2 ^ (8 - pieces % 8))
    end
    out[b] = string.format("%02x", v)
  end
  return table.concat(out)
end
