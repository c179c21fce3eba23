-- get.lua - wrk script: plain GETs of the URL given on the command line.
wrk.method = "GET"
