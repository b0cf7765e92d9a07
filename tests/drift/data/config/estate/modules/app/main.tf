variable "vpc_id" {
  type = string
}

resource "aws_instance" "web" {
  for_each      = toset(["blue", "green"])
  ami           = "ami-0123456789abcdef0"
  instance_type = "t3.micro"
  tags          = { Colour = each.key }
}

resource "aws_security_group" "web" {
  vpc_id = var.vpc_id
}

module "db" {
  source = "../db"
}
