use super::*;

#[test]
fn arch_names() {
    assert_eq!(Arch::parse("x86_64").unwrap(), Arch::X86_64);
    assert_eq!(Arch::parse("amd64").unwrap(), Arch::X86_64);
    assert_eq!(Arch::parse("arm64").unwrap(), Arch::Aarch64);
    assert_eq!(Arch::parse("aarch64").unwrap(), Arch::Aarch64);
    let err = Arch::parse("arm").unwrap_err().to_string();
    assert!(
        err.contains("`arm`")
            && err.contains("x86_64, i686, aarch64, ppc64le, s390x, armv7l, riscv64, or `all`"),
        "{err}"
    );
    assert_eq!(Arch::Aarch64.docker_platform(), "linux/arm64");
    assert_eq!(Arch::X86_64.docker_platform(), "linux/amd64");
}

#[test]
fn arch_lists() {
    assert_eq!(
        parse_arches(&["x86_64", "arm64"]).unwrap(),
        vec![Arch::X86_64, Arch::Aarch64]
    );
    assert!(parse_arches(&["arm64", "aarch64"])
        .unwrap_err()
        .to_string()
        .contains("twice"));
    assert!(parse_arches::<&str>(&[])
        .unwrap_err()
        .to_string()
        .contains("empty"));
}

#[test]
fn python_tags_round_trip() {
    for s in ["cp36", "cp312", "cp313t", "pp39", "pp310", "cp314t"] {
        assert_eq!(PythonTag::parse(s).unwrap().to_string(), s);
    }
    assert_eq!(
        PythonTag::parse("cp313t").unwrap(),
        PythonTag::CPython {
            minor: 13,
            free_threaded: true
        }
    );
}

#[test]
fn bad_python_tags() {
    for s in [
        "", "cp", "cp3", "cp27", "py312", "cp3x", "pp310t", "cp3123", "CP312", "cp312tt", "cp-1",
    ] {
        let err = PythonTag::parse(s).unwrap_err().to_string();
        assert!(
            err.contains(&format!("`{s}`")) && err.contains("cp3XY"),
            "{s}: {err}"
        );
    }
}

#[test]
fn dirs() {
    assert_eq!(
        PythonTag::from_dir("cp312-cp312"),
        Some(PythonTag::parse("cp312").unwrap())
    );
    assert_eq!(
        PythonTag::from_dir("cp313-cp313t"),
        Some(PythonTag::parse("cp313t").unwrap())
    );
    assert_eq!(
        PythonTag::from_dir("pp310-pypy310_pp73"),
        Some(PythonTag::parse("pp310").unwrap())
    );
    assert_eq!(PythonTag::from_dir("cp312-cp311"), None);
    assert_eq!(PythonTag::from_dir("pp310-pypy39_pp73"), None);
    assert_eq!(PythonTag::from_dir("README"), None);
    assert_eq!(
        PythonTag::parse("cp313t").unwrap().dir_guess(),
        "cp313-cp313t"
    );
    assert_eq!(
        PythonTag::parse("cp312").unwrap().dir_guess(),
        "cp312-cp312"
    );
    assert_eq!(
        PythonTag::parse("pp39").unwrap().dir_guess(),
        "pp39-pypy39_pp73"
    );
}

#[test]
fn selections() {
    assert_eq!(Selection::parse_list(&["all"]).unwrap(), Selection::All);
    assert!(Selection::parse_list(&["all", "cp312"])
        .unwrap_err()
        .to_string()
        .contains("alone"));
    assert!(Selection::parse_list(&[""])
        .unwrap_err()
        .to_string()
        .contains("empty"));
    assert!(Selection::parse_list(&["cp312", "cp312"])
        .unwrap_err()
        .to_string()
        .contains("twice"));
    let offered: Vec<String> = [
        "cp311-cp311",
        "cp313-cp313t",
        "pp39-pypy39_pp73",
        "cp313-cp313",
    ]
    .map(String::from)
    .to_vec();
    let all = Selection::All.resolve(&offered).unwrap();
    assert_eq!(all.len(), 4);
    let some = Selection::parse_list(&["pp39", "cp313"])
        .unwrap()
        .resolve(&offered)
        .unwrap();
    assert_eq!(some[0].1, "pp39-pypy39_pp73");
    assert_eq!(some[1].1, "cp313-cp313");
    let err = Selection::parse_list(&["cp312"])
        .unwrap()
        .resolve(&offered)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "interpreter `cp312` is not in the image; it offers: cp311, cp313t, pp39, cp313"
    );
}

#[test]
fn build_ids() {
    let id = BuildId {
        python: PythonTag::parse("cp312").unwrap(),
        arch: Arch::X86_64,
        libc: Libc::Glibc,
    };
    assert_eq!(id.to_string(), "cp312-manylinux_x86_64");
    let musl = BuildId::parse("cp313-musllinux_aarch64").unwrap();
    assert_eq!(
        (musl.arch, musl.libc, musl.to_string().as_str()),
        (Arch::Aarch64, Libc::Musl, "cp313-musllinux_aarch64")
    );
    assert!(BuildId::parse("cp313-muslinux_x86_64").is_err());
    assert_eq!(
        Libc::parse_list(&["musllinux,manylinux"]).unwrap(),
        [Libc::Musl, Libc::Glibc]
    );
    assert_eq!(Libc::parse_list(&["all"]).unwrap(), Libc::ALL);
    assert!(Libc::parse_list(&["musl,musllinux"]).is_err());
    assert_eq!(
        Libc::parse("alpine").unwrap_err().to_string(),
        "unknown libc `alpine`: use manylinux (glibc), musllinux (musl) or both, as in manylinux,musllinux"
    );
    let id = BuildId {
        python: PythonTag::parse("pp39").unwrap(),
        arch: Arch::Aarch64,
        libc: Libc::Glibc,
    };
    assert_eq!(id.to_string(), "pp39-manylinux_aarch64");
}

#[test]
fn build_ids_round_trip() {
    for s in [
        "cp312-manylinux_x86_64",
        "cp313t-manylinux_aarch64",
        "pp310-manylinux_aarch64",
    ] {
        assert_eq!(BuildId::parse(s).unwrap().to_string(), s);
    }
    for bad in [
        "cp312",
        "cp312-linux_x86_64",
        "cp312-manylinux_arm64",
        "cp3x-manylinux_x86_64",
        "cp312-manylinux_sparc",
    ] {
        assert!(BuildId::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(Arch::from_docker_name("arm64"), Some(Arch::Aarch64));
    assert_eq!(Arch::from_docker_name("amd64"), Some(Arch::X86_64));
    assert_eq!(Arch::from_docker_name("s390x"), Some(Arch::S390x));
    assert_eq!(Arch::from_docker_name("arm"), Some(Arch::Armv7l));
    assert_eq!(Arch::from_docker_name("386"), Some(Arch::I686));
    assert_eq!(Arch::from_docker_name("mips64le"), None);
    assert_eq!(Arch::parse("armhf").unwrap(), Arch::Armv7l);
    assert_eq!(parse_arches(&["all"]).unwrap(), Arch::ALL.to_vec());
    for row in &ROWS {
        assert_eq!(row.arch.row().name, row.name, "rows are in Arch's order");
        assert_eq!(Arch::parse(row.name).unwrap(), row.arch);
        assert_eq!(
            BuildId::parse(&format!("cp313-manylinux_{}", row.name))
                .unwrap()
                .arch,
            row.arch
        );
    }
}
