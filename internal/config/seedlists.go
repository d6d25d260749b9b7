package config

import (
	"path/filepath"
	"slices"
)

// loadSeedLists reads the files named under [seed_lists]. Their seeds join the
// config's own, keep their file as Source and their lines from it, and resolve
// relative names against that file's directory. A seed name may be declared
// once across all files.
func (c *Config) loadSeedLists(raw map[string]string, dir string, pr problems, errs *[]error) {
	c.SeedLists = map[string]*SeedList{}
	read := map[string]*SeedList{} // by file: two lists may name one file
	for _, name := range sorted(raw) {
		file := inDir(dir, raw[name])
		list := &SeedList{Name: name, File: file}
		c.SeedLists[name] = list
		if prev := read[file]; prev != nil {
			list.Seeds, list.unread = prev.Seeds, prev.unread
			continue
		}
		read[file] = list
		if raw[name] == "" {
			pr.add("seed_lists."+name, "empty (name a file of [seeds.NAME] tables, e.g. \"seeds/example.toml\")")
			list.unread = true
			continue
		}
		data, err := readSmall(file)
		if err != nil {
			pr.add("seed_lists."+name, "%v (fix the path; it is relative to %s)", err, pr.file)
			list.unread = true
			continue
		}
		lpr := problems{file: file, lines: keyLines(data), errs: errs}
		c.keyLines[file] = lpr.lines
		rl, perrs, ok := decode[rawSeedList](file, data)
		*errs = append(*errs, perrs...)
		if !ok {
			list.unread = true
			continue
		}
		for _, sname := range sorted(rl.Seeds) {
			if prev, dup := c.Seeds[sname]; dup {
				lpr.add("seeds."+sname, "seed %q is also declared in %s:%d (give one of them another name)", sname, prev.Source, prev.Line)
				continue
			}
			c.Seeds[sname] = newSeed(lpr, sname, rl.Seeds[sname], filepath.Dir(file))
			list.Seeds = append(list.Seeds, sname)
		}
		slices.SortStableFunc(list.Seeds, func(a, b string) int {
			return lpr.lines["seeds."+a] - lpr.lines["seeds."+b]
		})
	}
}

// expandSeedLists adds every seed of a check's seed lists to its seeds, once,
// after the seeds it names itself.
func (c *Config) expandSeedLists() {
	for _, ch := range c.Checks {
		for _, ln := range ch.SeedLists {
			if l, ok := c.SeedLists[ln]; ok {
				for _, s := range l.Seeds {
					if !slices.Contains(ch.Seeds, s) {
						ch.Seeds = append(ch.Seeds, s)
					}
				}
			}
		}
	}
}
