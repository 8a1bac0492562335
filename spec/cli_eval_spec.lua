-- Specs of `tessera eval`: the table and the JSON give tessera.eval.separation's numbers for
-- the files named, onset files are read and scored, and bad input is one line on stderr with
-- status 1.
local core = require "tessera.core"
local json = require "tessera.json"
local helpers = require "helpers"

local eval = require "tessera.eval"
local fmt = string.format
local q = helpers.shell_quote
local BIN = helpers.root .. "/bin/tessera"

describe("tessera eval", function()
  local dir, refs, ests

  setup(function()
    dir = helpers.tmpdir()
    local names = { "loop_amen.flac", "bass_voxy_c.flac" }
    local stems = {}
    refs, ests = {}, {}
    for i, name in ipairs(names) do
      stems[i] = core.audio.load(helpers.samples .. "/" .. name, { sr = 22050, duration = 0.5 })
      refs[i] = fmt("%s/ref%d.wav", dir, i)
      stems[i]:save(refs[i], { subtype = "float" })
    end
    -- Each estimate: its stem with a tenth of the other leaking in, given in swapped order.
    ests[1] = dir .. "/est_bass.wav"
    stems[2]:mix(stems[1]:gain(0.1)):save(ests[1], { subtype = "float" })
    ests[2] = dir .. "/est_drums.wav"
    stems[1]:mix(stems[2]:gain(0.1)):save(ests[2], { subtype = "float" })
    helpers.write_file(dir .. "/est.txt", "0.10\n0.50\n# a comment\n\n1.00,label\n")
    helpers.write_file(dir .. "/ref.txt", "0.12 x\n0.52\n1.30\n")
    helpers.write_file(dir .. "/bad.txt", "0.1\nhalf past\n")
  end)

  teardown(function()
    helpers.rmtree(dir)
  end)

  local function run(args)
    return helpers.run(fmt("%s eval %s 2>&1", q(BIN), args))
  end

  it("prints tessera.eval.separation's numbers as JSON, with the onsets", function()
    local out, ok = run(fmt("%s %s --ref %s %s --json --onsets %s --ref-onsets %s", q(ests[1]),
      q(ests[2]), q(refs[1]), q(refs[2]), q(dir .. "/est.txt"), q(dir .. "/ref.txt")))
    assert.is_true(ok, out)
    local got = json.decode(out)
    local want = eval.separation(ests, refs)
    assert.equal(2, #got.separation)
    for i = 1, 2 do
      assert.equal(3 - i, got.separation[i].reference)
      assert.equal(refs[3 - i], got.separation[i].path_reference)
      for _, key in ipairs({ "sdr", "sir", "sar", "si_sdr", "sd_sdr", "spectral_convergence" }) do
        assert.near(want[i][key], got.separation[i][key], 1e-9, key)
      end
    end
    local f, p, r = eval.onsets({ 0.1, 0.5, 1.0 }, { 0.12, 0.52, 1.3 })
    assert.near(2 / 3, f, 1e-12)
    assert.same({ f_measure = f, precision = p, recall = r, window = 0.05,
                  estimated = dir .. "/est.txt", reference = dir .. "/ref.txt" }, got.onsets)
  end)

  it("prints a table, one line per estimate", function()
    local out, ok = run(fmt("%s %s --ref %s %s", q(ests[1]), q(ests[2]), q(refs[1]), q(refs[2])))
    assert.is_true(ok, out)
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.equal(3, #lines)
    assert.truthy(lines[1]:match("^estimate%s+reference%s+SDR%s+SIR%s+SAR%s+SI%-SDR%s+SD%-SDR%s+spec%.conv$"))
    local want = eval.separation(ests, refs)
    for i = 1, 2 do
      local sdr = lines[i + 1]:match("^" .. ests[i]:gsub("%p", "%%%0") .. "%s+"
        .. refs[3 - i]:gsub("%p", "%%%0") .. "%s+(%S+)")
      assert.equal(fmt("%.2f", want[i].sdr), sdr)
    end
  end)

  it("scores onsets alone", function()
    local out, ok = run(fmt("--onsets %s --ref-onsets %s --window 0.01", q(dir .. "/est.txt"),
      q(dir .. "/ref.txt")))
    assert.is_true(ok, out)
    assert.equal(fmt("onsets %s/est.txt against %s/ref.txt (window 0.01 s): F-measure 0.0000, "
      .. "precision 0.0000, recall 0.0000\n", dir, dir), out)
  end)

  it("fails with one line and status 1 on bad input", function()
    local cases = {
      { q(ests[1]), "tessera: eval: give the estimates and their references (--ref)" },
      { fmt("%s %s --ref %s", q(ests[1]), q(ests[2]), q(refs[1])),
        "tessera: tessera.eval.separation: 2 estimates but 1 reference (each estimate needs "
          .. "a reference of its own)" },
      { "--onsets " .. q(dir .. "/est.txt"), "tessera: eval: give both --onsets and --ref-onsets" },
      { "", "tessera: eval: nothing to evaluate (give ESTIMATES... --ref REFERENCES..., or "
          .. "--onsets and --ref-onsets)" },
      { fmt("--onsets %s --ref-onsets %s", q(dir .. "/bad.txt"), q(dir .. "/ref.txt")),
        fmt("tessera: eval: onsets '%s/bad.txt' line 2: 'half' is not a number of seconds", dir) },
    }
    for _, case in ipairs(cases) do
      local out, ok, code = run(case[1])
      assert.is_falsy(ok)
      assert.equal(1, code)
      assert.equal(case[2], out:sub(1, #case[2]), case[1])
      assert.equal(1, select(2, out:gsub("\n", "")), out)
    end
  end)
end)
