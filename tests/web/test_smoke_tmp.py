def test_smoke(console):
    c = console.sign_in("committee@lib.example")
    print(console.url, console.smtp.port)
    for path in ["/", "/pairs/P1", "/escalations", "/plan", "/templates", "/templates/topic",
                 "/templates/topic/history", "/roster", "/report", "/export/events.csv", "/api/status"]:
        r = c.get(path)
        print(path, r.status_code, len(r.text))
        assert r.status_code == 200, r.text[:3000]
    c.close()
