-- post.lua - wrk script: the same small JSON POST every time (the ceilings).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"activityId":1,"token":"x","quantity":1}'
