-- busted output handler: a dot per test, the details of each failure and error, and a
-- closing line "N passed, N failed" (errors count as failed). When TESSERA_SPEC_COUNTS
-- names a file, the counts are also written there for scripts/run-specs.sh to add up.
local pretty = require "pl.pretty"

return function()
  local busted = require "busted"
  local handler = require "busted.outputHandlers.base"()

  local function describe_failure(kind, item)
    local trace = item.element and item.element.trace
    local where = trace and trace.short_src and (trace.short_src .. ":" .. trace.currentline) or "?"
    local message = item.message
    if type(message) ~= "string" then message = message == nil and "nil error" or pretty.write(message) end
    return string.format("%s -> %s\n%s\n%s\n", kind, where, item.name, message)
  end

  local function on_test_end(_, _, status)
    local mark = ({ success = ".", failure = "F", error = "E", pending = "P" })[status] or "?"
    io.write(mark)
    io.flush()
    return nil, true
  end

  local function on_suite_end()
    io.write("\n")
    for _, f in ipairs(handler.failures) do io.write("\n", describe_failure("FAILURE", f)) end
    for _, e in ipairs(handler.errors) do io.write("\n", describe_failure("ERROR", e)) end
    local passed = handler.successesCount
    local failed = handler.failuresCount + handler.errorsCount
    local pending = handler.pendingsCount
    io.write(string.format("\n%d passed, %d failed%s (%.1f s)\n", passed, failed,
      pending > 0 and string.format(", %d skipped", pending) or "", handler.getDuration()))
    local counts_file = os.getenv("TESSERA_SPEC_COUNTS")
    if counts_file then
      local f = assert(io.open(counts_file, "w"))
      f:write(string.format("%d %d %d\n", passed, failed, pending))
      f:close()
    end
    io.flush()
    return nil, true
  end

  -- busted's loader calls handler:subscribe(options) itself (the base counters).
  busted.subscribe({ "test", "end" }, on_test_end, { predicate = handler.cancelOnPending })
  busted.subscribe({ "suite", "end" }, on_suite_end)
  return handler
end
